import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { CATALOG_VERSION, resolveModelPrice } from '../../shared/pricing/model-catalog.ts';
import type { ProviderConfig } from '../../shared/config/config-schema.ts';

/** A model the gateway can serve, with the price it bills at and where that price came from. */
export interface ModelListing {
  name: string;
  provider: string;
  provider_type: string;
  upstream: string;
  /** Whether this gateway has the provider configured (a policy model without it cannot be served here). */
  servable: boolean;
  price: { input: number; cached_input?: number | undefined; cache_write?: number | undefined; output: number } | null;
  long_context: { above_input_tokens: number; input: number; output: number } | null;
  price_source: string;
  context_window: number | null;
  cost_centers: string[];
}

function providerKind(provider: ProviderConfig | undefined): string | undefined {
  if (!provider) return undefined;
  return provider.type === 'openai-chat' ? (provider.preset ?? provider.type) : provider.type;
}

/** Every model of the active policy, priced (policy price, else the catalog's). */
export function listModels(context: GatewayContext): { policy_version: number; catalog: string; models: ModelListing[] } {
  const policy = context.policy.current();
  const centers = Object.entries(policy.document.cost_centers);
  const models = Object.entries(policy.document.models)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, definition]): ModelListing => {
      const provider = context.config.providers[definition.provider];
      const resolved = resolveModelPrice(definition, { providerKind: providerKind(provider) });
      const { long_context: longContext, ...rates } = resolved?.price ?? { input: 0, output: 0 };
      return {
        name,
        provider: definition.provider,
        provider_type: provider?.type ?? '',
        upstream: definition.upstream,
        servable: provider !== undefined,
        price: resolved ? rates : null,
        long_context: longContext ? { above_input_tokens: longContext.above_input_tokens, input: longContext.input, output: longContext.output } : null,
        price_source: resolved?.source ?? 'none',
        context_window: resolved?.contextWindow ?? null,
        cost_centers: centers.filter(([, center]) => center.allowed_models.includes(name)).map(([centerName]) => centerName),
      };
    });
  return { policy_version: policy.version, catalog: `@pydantic/genai-prices@${CATALOG_VERSION}`, models };
}

export async function modelRoutes(app: FastifyInstance, { context }: { context: GatewayContext }): Promise<void> {
  app.get('/admin/models', { preHandler: context.requireRole('analyst') }, async () => listModels(context));
}
