import { makeUsage, type CanonicalUsage } from '../../canonical/usage.ts';
import { asNumber } from '../wire-json.ts';
import type { ChatUsage } from './wire-schema.ts';

/** `prompt_tokens` includes cached tokens (the canonical convention already). */
export function mapChatUsage(usage: ChatUsage): CanonicalUsage {
  return makeUsage({
    inputTokens: asNumber(usage.prompt_tokens),
    cachedInputTokens: asNumber(usage.prompt_tokens_details?.cached_tokens) || asNumber(usage.prompt_cache_hit_tokens),
    outputTokens: asNumber(usage.completion_tokens),
    reasoningTokens: asNumber(usage.completion_tokens_details?.reasoning_tokens),
  });
}
