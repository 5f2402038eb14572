import { makeUsage, type CanonicalUsage } from '../../canonical/usage.ts';
import { asNumber } from '../wire-json.ts';
import type { GeminiUsage } from './wire-schema.ts';

/**
 * `promptTokenCount` already includes `cachedContentTokenCount`; `candidatesTokenCount` excludes
 * thinking, which OpenAI counts in output tokens.
 */
export function mapGeminiUsage(usage: GeminiUsage): CanonicalUsage {
  const thoughts = asNumber(usage.thoughtsTokenCount);
  return makeUsage({
    inputTokens: asNumber(usage.promptTokenCount),
    cachedInputTokens: asNumber(usage.cachedContentTokenCount),
    outputTokens: asNumber(usage.candidatesTokenCount) + thoughts,
    reasoningTokens: thoughts,
  });
}
