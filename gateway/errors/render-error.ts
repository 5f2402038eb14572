import { ERROR_CODES } from './error-codes.ts';
import type { GatewayError } from './gateway-error.ts';
import type { InboundProtocol } from '../forward/forward-types.ts';

export interface ErrorContext {
  requestId: string;
  policyVersion: number | null;
  debug?: boolean;
}

/** Error `type` values each client family knows; an upstream's type outside them is not passed on. */
const OPENAI_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'conflict_error', 'unprocessable_entity_error', 'rate_limit_error', 'server_error', 'api_error', 'insufficient_quota']);
const ANTHROPIC_TYPES = new Set(['invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'api_error', 'overloaded_error', 'timeout_error']);

/**
 * The upstream's own words when the upstream (not the gateway) decided: a 4xx rejection of the
 * request other than a rate limit or timeout. Its `code`, `param` and `type` (when the client's
 * protocol knows that type) reach the client; the gateway's code stays in `gatehouse.code`.
 */
function upstreamWords(error: GatewayError, protocol: InboundProtocol): { code?: string; param?: string; type?: string } {
  const upstream = error.upstream;
  const status = upstream?.status;
  if (upstream === undefined || status === undefined || status < 400 || status >= 500 || status === 429 || status === 408) return {};
  const types = protocol === 'anthropic-messages' ? ANTHROPIC_TYPES : OPENAI_TYPES;
  return {
    ...(upstream.code !== undefined && upstream.code !== '' ? { code: upstream.code } : {}),
    ...(upstream.param !== undefined && upstream.param !== '' ? { param: upstream.param } : {}),
    ...(upstream.type !== undefined && types.has(upstream.type) ? { type: upstream.type } : {}),
  };
}

/** The error body in the caller's protocol: OpenAI shape (plus `gatehouse` details) or Anthropic shape. */
export function renderErrorBody(error: GatewayError, protocol: InboundProtocol, context: ErrorContext): Record<string, unknown> {
  const entry = ERROR_CODES[error.code];
  const words = upstreamWords(error, protocol);
  const details = {
    code: error.code,
    status: error.status,
    retryable: error.retryable,
    ...(error.retryAfterMillis === undefined ? {} : { retry_after_ms: error.retryAfterMillis }),
    ...(error.provider ? { provider: error.provider } : {}),
    ...(error.costCenter ? { cost_center: error.costCenter } : {}),
    ...(error.model ? { model: error.model } : {}),
    ...(error.upstream ? { upstream: { status: error.upstream.status, type: error.upstream.type, code: error.upstream.code, param: error.upstream.param, ...(context.debug ? { body: error.upstream.body } : {}) } } : {}),
    attempts: error.attempts,
  };
  if (protocol === 'anthropic-messages') {
    return {
      type: 'error',
      error: { type: words.type ?? entry.anthropicType, message: error.message, code: words.code ?? error.code },
      request_id: context.requestId,
      policy_version: context.policyVersion,
      gatehouse: details,
    };
  }
  return {
    error: {
      message: error.message,
      type: words.type ?? entry.openaiType,
      code: words.code ?? error.code,
      param: words.param ?? error.param,
      request_id: context.requestId,
      policy_version: context.policyVersion,
      gatehouse: details,
    },
  };
}

/**
 * A refusal answered outside the turn pipeline, where no request id or policy version applies (the
 * WebSocket upgrade, refused on the raw socket or on GET): OpenAI's own four keys and nothing beside them.
 */
export function renderBareErrorBody(error: GatewayError): { error: { message: string; type: string; code: string; param: string | null } } {
  return { error: { message: error.message, type: ERROR_CODES[error.code].openaiType, code: error.code, param: error.param } };
}
