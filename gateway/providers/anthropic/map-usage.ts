import { makeUsage, type CanonicalUsage } from '../../canonical/usage.ts';
import { asNumber } from '../wire-json.ts';
import type { AnthropicUsage } from './wire-schema.ts';

/** Anthropic's `input_tokens` EXCLUDES cache reads and writes; OpenAI's convention includes them. */
export function mapAnthropicUsage(usage: AnthropicUsage): CanonicalUsage {
  const cacheRead = asNumber(usage.cache_read_input_tokens);
  const cacheWrite = asNumber(usage.cache_creation_input_tokens);
  return makeUsage({
    inputTokens: asNumber(usage.input_tokens) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: asNumber(usage.output_tokens),
  });
}
