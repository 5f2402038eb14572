import { makeUsage, type CanonicalUsage } from '../../canonical/usage.ts';
import { asNumber } from '../wire-json.ts';
import type { ResponsesUsage } from './wire-schema.ts';

/** Responses usage is already in the canonical convention (input includes cached). */
export function mapResponsesUsage(usage: ResponsesUsage): CanonicalUsage {
  return makeUsage({
    inputTokens: asNumber(usage.input_tokens),
    cachedInputTokens: asNumber(usage.input_tokens_details?.cached_tokens),
    cacheWriteTokens: asNumber(usage.input_tokens_details?.cache_write_tokens),
    outputTokens: asNumber(usage.output_tokens),
    reasoningTokens: asNumber(usage.output_tokens_details?.reasoning_tokens),
  });
}
