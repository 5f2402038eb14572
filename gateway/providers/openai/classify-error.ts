import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyUpstreamFailure, readErrorFields } from '../classify-upstream-failure.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

/** Codes that a retry (on the same or another target) will not fix. */
const FINAL_CODES = new Set(['context_length_exceeded']);

export function classifyOpenAIError(failure: UpstreamFailure, provider = 'openai'): GatewayError {
  const fields = readErrorFields(failure.body);
  return classifyUpstreamFailure(provider, failure, { ...fields, ...(fields.code !== undefined && FINAL_CODES.has(fields.code) ? { retryable: false } : {}) });
}
