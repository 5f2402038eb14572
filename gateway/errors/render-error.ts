import { ERROR_CODES } from './error-codes.ts';
import type { GatewayError } from './gateway-error.ts';
import type { InboundProtocol } from '../forward/forward-types.ts';

export interface ErrorContext {
  requestId: string;
  policyVersion: number | null;
  debug?: boolean;
}

/** The error body in the caller's protocol: OpenAI shape (plus `gatehouse` details) or Anthropic shape. */
export function renderErrorBody(error: GatewayError, protocol: InboundProtocol, context: ErrorContext): Record<string, unknown> {
  const entry = ERROR_CODES[error.code];
  const details = {
    status: error.status,
    retryable: error.retryable,
    ...(error.retryAfterMillis === undefined ? {} : { retry_after_ms: error.retryAfterMillis }),
    ...(error.provider ? { provider: error.provider } : {}),
    ...(error.costCenter ? { cost_center: error.costCenter } : {}),
    ...(error.model ? { model: error.model } : {}),
    ...(error.upstream ? { upstream: { status: error.upstream.status, type: error.upstream.type, code: error.upstream.code, ...(context.debug ? { body: error.upstream.body } : {}) } } : {}),
    attempts: error.attempts,
  };
  if (protocol === 'anthropic-messages') {
    return {
      type: 'error',
      error: { type: entry.anthropicType, message: error.message, code: error.code },
      request_id: context.requestId,
      policy_version: context.policyVersion,
      gatehouse: details,
    };
  }
  return {
    error: {
      message: error.message,
      type: entry.openaiType,
      code: error.code,
      param: error.param,
      request_id: context.requestId,
      policy_version: context.policyVersion,
      gatehouse: details,
    },
  };
}
