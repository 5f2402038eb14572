import type { Price } from '../../shared/policy/policy-schema.ts';
import type { NormalizedUsage } from '../../shared/telemetry/turn-record.ts';

/**
 * USD cost of one turn. Usage is in OpenAI's convention (input includes cached and cache-write
 * tokens), so the uncached remainder is billed at the input price, cache reads at `cached_input`
 * and cache writes at `cache_write`. Reasoning tokens are part of output tokens.
 */
export function computeCostUsd(usage: NormalizedUsage, basePrice: Price): number {
  const price = ratesFor(basePrice, usage.inputTokens);
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const cacheWrite = Math.min(usage.cacheWriteTokens, usage.inputTokens - cached);
  const uncached = usage.inputTokens - cached - cacheWrite;
  const micros =
    uncached * price.input +
    cached * (price.cached_input ?? price.input) +
    cacheWrite * (price.cache_write ?? price.input) +
    usage.outputTokens * price.output;
  return micros / 1_000_000;
}

/** Upper-bound cost used to reserve budget before the upstream answers. */
export function estimateCostUsd(inputTokens: number, maxOutputTokens: number, basePrice: Price): number {
  const price = ratesFor(basePrice, inputTokens);
  return (inputTokens * price.input + maxOutputTokens * price.output) / 1_000_000;
}

/** The rates that apply to a turn of this many input tokens: long-context rates above their threshold. */
function ratesFor(price: Price, inputTokens: number): Omit<Price, 'long_context'> {
  const longContext = price.long_context;
  return longContext !== undefined && inputTokens > longContext.above_input_tokens ? longContext : price;
}
