import { makeUsage, type CanonicalUsage } from '../../canonical/usage.ts';
import { asNumber } from '../wire-json.ts';
import type { ConverseUsage } from './wire-schema.ts';

/** Converse `inputTokens` excludes cache reads and writes (as Anthropic's does): add them back. */
export function mapBedrockUsage(usage: ConverseUsage): CanonicalUsage {
  const cacheRead = asNumber(usage.cacheReadInputTokens);
  const cacheWrite = asNumber(usage.cacheWriteInputTokens);
  return makeUsage({
    inputTokens: asNumber(usage.inputTokens) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: asNumber(usage.outputTokens),
  });
}
