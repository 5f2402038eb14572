import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyUpstreamFailure, readErrorFields } from '../classify-upstream-failure.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

/** `{"type":"error","error":{"type":"overloaded_error",…}}`; 529 is overloaded and retryable. */
export function classifyAnthropicError(failure: UpstreamFailure): GatewayError {
  const fields = readErrorFields(failure.body);
  return classifyUpstreamFailure('anthropic', failure, fields);
}

/** In-stream `error` event types that are worth another try on a fallback. */
export function isRetryableAnthropicStreamError(type: string | undefined): boolean {
  return type === 'overloaded_error' || type === 'api_error' || type === 'rate_limit_error' || type === 'timeout_error';
}
