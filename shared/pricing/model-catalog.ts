import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { calcPrice, type ModelPrice, type TieredPrices } from '@pydantic/genai-prices';
import type { Price } from '../policy/policy-schema.ts';

/**
 * Prices and context windows from a maintained catalog (`@pydantic/genai-prices`, bundled data, no
 * network at run time), used for a model whose policy entry has no `price`. The policy's own price
 * always wins. Each resolution says where its price came from, so a span's cost can be explained later.
 */
export interface ResolvedPrice {
  price: Price;
  /** `policy`, or `catalog:@pydantic/genai-prices@<version>:<provider>/<model id>`. */
  source: string;
  /** Tokens the model accepts in one request (input + output), when the catalog knows it. */
  contextWindow?: number | undefined;
}

const CATALOG_PACKAGE = '@pydantic/genai-prices';
/** The package does not export its package.json; read it beside its entry point (dist/…). */
export const CATALOG_VERSION: string = (
  JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve(CATALOG_PACKAGE)), '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** genai-prices provider ids for Gatehouse provider types and OpenAI-compatible presets. */
const CATALOG_PROVIDER: Record<string, string> = {
  openai: 'openai',
  'azure-openai': 'azure',
  anthropic: 'anthropic',
  gemini: 'google',
  bedrock: 'aws',
  groq: 'groq',
  together: 'together',
  fireworks: 'fireworks',
  mistral: 'mistral',
  deepseek: 'deepseek',
  openrouter: 'openrouter',
  xai: 'x-ai',
};

/** What the catalog needs to know about where a model is served. */
export interface CatalogHint {
  /** Provider type (`openai`, `anthropic`, …) or OpenAI-compatible preset (`groq`, …). */
  providerKind?: string | undefined;
}

const cache = new Map<string, ResolvedPrice | null>();

/** The catalog's price for an upstream model id, or undefined when the catalog does not know it. */
export function catalogPrice(upstreamModel: string, hint: CatalogHint = {}): ResolvedPrice | undefined {
  const cacheKey = `${hint.providerKind ?? ''}\u0000${upstreamModel}`;
  let resolved = cache.get(cacheKey);
  if (resolved === undefined) {
    resolved = lookUp(upstreamModel, hint) ?? null;
    cache.set(cacheKey, resolved);
  }
  return resolved ?? undefined;
}

function lookUp(upstreamModel: string, hint: CatalogHint): ResolvedPrice | undefined {
  const providerId = hint.providerKind !== undefined ? CATALOG_PROVIDER[hint.providerKind] : undefined;
  const probe = { input_tokens: 1, output_tokens: 1 };
  // A provider hint narrows the match (Azure and Bedrock price the same model differently); without one,
  // or when the hinted provider does not list the model, the catalog's own model matching decides.
  const found = (providerId !== undefined ? calcPrice(probe, upstreamModel, { providerId }) : null) ?? calcPrice(probe, upstreamModel);
  if (!found) return undefined;
  const price = toPrice(found.model_price);
  if (!price) return undefined;
  return {
    price,
    source: `catalog:${CATALOG_PACKAGE}@${CATALOG_VERSION}:${found.provider.id}/${found.model.id}`,
    contextWindow: found.model.context_window,
  };
}

function baseRate(value: number | TieredPrices | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : value.base;
}

/** The first tier above the base, for long prompts (e.g. OpenAI above 272K input tokens). */
function longContextTier(modelPrice: ModelPrice): Price['long_context'] {
  const input = modelPrice.input_mtok;
  if (input === undefined || typeof input === 'number' || input.tiers.length === 0) return undefined;
  const threshold = input.tiers[0]!.start;
  const at = (value: number | TieredPrices | undefined): number | undefined => {
    if (value === undefined || typeof value === 'number') return value;
    const tier = value.tiers.find((candidate) => candidate.start === threshold);
    return tier?.price ?? value.base;
  };
  const output = at(modelPrice.output_mtok);
  if (output === undefined) return undefined;
  return {
    above_input_tokens: threshold,
    input: at(input)!,
    ...(at(modelPrice.cache_read_mtok) !== undefined ? { cached_input: at(modelPrice.cache_read_mtok)! } : {}),
    ...(at(modelPrice.cache_write_mtok) !== undefined ? { cache_write: at(modelPrice.cache_write_mtok)! } : {}),
    output,
  };
}

function toPrice(modelPrice: ModelPrice): Price | undefined {
  const input = baseRate(modelPrice.input_mtok);
  const output = baseRate(modelPrice.output_mtok);
  if (input === undefined || output === undefined) return undefined;
  const cachedInput = baseRate(modelPrice.cache_read_mtok);
  const cacheWrite = baseRate(modelPrice.cache_write_mtok);
  const longContext = longContextTier(modelPrice);
  return {
    input,
    output,
    ...(cachedInput !== undefined ? { cached_input: cachedInput } : {}),
    ...(cacheWrite !== undefined ? { cache_write: cacheWrite } : {}),
    ...(longContext !== undefined ? { long_context: longContext } : {}),
  };
}

/** A policy model entry as far as pricing is concerned. */
export interface PricedModel {
  upstream: string;
  price?: Price | undefined;
}

/**
 * The price a model is billed at: the policy's, else the catalog's. `providerKind` (the provider's
 * type or preset) sharpens the catalog match when the caller knows it.
 */
export function resolveModelPrice(model: PricedModel, hint: CatalogHint = {}): ResolvedPrice | undefined {
  if (model.price !== undefined) {
    const fromCatalog = catalogPrice(model.upstream, hint);
    return { price: model.price, source: 'policy', contextWindow: fromCatalog?.contextWindow };
  }
  return catalogPrice(model.upstream, hint);
}

/** Like resolveModelPrice, for callers that only run on validated policies (every model is priced). */
export function modelPrice(model: PricedModel, hint: CatalogHint = {}): Price {
  const resolved = resolveModelPrice(model, hint);
  if (!resolved) throw new Error(`no price for model "${model.upstream}": the policy gives none and the catalog does not know it`);
  return resolved.price;
}

/** Price of a policy model by name (policy price, else catalog), or undefined when the policy does not define it. */
export function policyModelPrice(models: Readonly<Record<string, PricedModel>>, name: string): Price | undefined {
  const model = models[name];
  return model === undefined ? undefined : resolveModelPrice(model)?.price;
}
