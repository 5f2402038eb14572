import type { ModelDefinition } from '../../shared/policy/policy-schema.ts';
import { resolveModelPrice } from '../../shared/pricing/model-catalog.ts';
import { DEFAULT_MAX_TOKENS as ANTHROPIC_DEFAULT_MAX_TOKENS } from '../providers/anthropic/to-wire-request.ts';

/**
 * How many output tokens a request may still produce, for what admission reserves before the answer
 * exists (budgets in USD, `tpm` in tokens): min(the request's own cap, the model's output cap). Reserving
 * only the input let concurrent long answers overrun a budget or a tpm limit that each one fitted; the
 * reservation is settled to the real usage when the turn ends (docs/CONFIG.md#output-reservation).
 */

/**
 * The model's output cap when the policy gives none and the catalog knows none (`@pydantic/genai-prices`
 * 0.1.x carries context windows, not output caps): the `max_tokens` Gatehouse itself sends to Anthropic
 * when a client sets none, and at or above the cap of most coding models (GPT-5 answers up to 128,000:
 * give such a model `max_output_tokens` to reserve all of it).
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 32_000;

/** The request's own output cap, in whichever protocol's field it came. */
export function requestOutputCap(body: Record<string, unknown>): number | undefined {
  const value = body.max_output_tokens ?? body.max_completion_tokens ?? body.max_tokens;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}

/**
 * The most a model can answer to a prompt of `inputTokens`: the policy's `max_output_tokens`, else the
 * default, never more than the catalog's context window leaves after the input.
 */
export function modelOutputCap(definition: ModelDefinition | undefined, inputTokens: number): number {
  if (definition?.max_output_tokens !== undefined) return definition.max_output_tokens;
  const window = definition ? resolveModelPrice(definition)?.contextWindow : undefined;
  return window !== undefined && window > inputTokens ? Math.min(DEFAULT_MAX_OUTPUT_TOKENS, window - inputTokens) : DEFAULT_MAX_OUTPUT_TOKENS;
}

/**
 * Output tokens to reserve for a request to `definition`: min(the request's cap, the model's cap). A
 * request without a cap to an Anthropic provider is capped by the gateway itself (the `max_tokens` it
 * sends: `default_max_output_tokens`, else 32,000), so that is its cap.
 */
export function outputReservation(body: Record<string, unknown>, definition: ModelDefinition | undefined, providers: Readonly<Record<string, { type: string }>>, inputTokens: number): number {
  const modelCap = modelOutputCap(definition, inputTokens);
  const sentByGateway = definition && providers[definition.provider]?.type === 'anthropic' ? (definition.default_max_output_tokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS) : undefined;
  const requestCap = requestOutputCap(body) ?? sentByGateway;
  return requestCap === undefined ? modelCap : Math.min(requestCap, modelCap);
}
