import type { NormalizedUsage } from '../../shared/telemetry/turn-record.ts';

/**
 * Canonical usage is OpenAI's convention: `inputTokens` INCLUDES cached reads and cache writes.
 * Adapters whose upstream counts differently (Anthropic, Bedrock) add them up in map-usage.ts.
 */
export type CanonicalUsage = NormalizedUsage;

export function makeUsage(partial: Partial<CanonicalUsage>): CanonicalUsage {
  return {
    inputTokens: partial.inputTokens ?? 0,
    cachedInputTokens: partial.cachedInputTokens ?? 0,
    cacheWriteTokens: partial.cacheWriteTokens ?? 0,
    outputTokens: partial.outputTokens ?? 0,
    reasoningTokens: partial.reasoningTokens ?? 0,
  };
}
