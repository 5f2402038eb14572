import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors/gateway-error.ts';
import { renderErrorBody } from '../errors/render-error.ts';
import { ERROR_CODES } from '../errors/error-codes.ts';

/**
 * Codes Codex CLI must show at once: denials and a wrong or revoked key. It retries 401/403/402 five
 * times (~7 s of "Reconnecting… 5/5") and hides most 429 messages, but shows a 400's body at once.
 */
const CODEX_AT_ONCE_CODES = new Set(['model_not_allowed', 'provider_not_allowed', 'budget_exhausted', 'retry_limit_exceeded', 'rate_limit_exceeded', 'invalid_api_key', 'secret_detected', 'guardrail_blocked']);

/** Longest Retry-After we send: Codex CLI hangs on long ones (../shared/CODEX-CLI.md). */
const MAX_RETRY_AFTER_SECONDS = 5;

/**
 * Whether a turn's caller is Codex CLI (its denials are shaped so the terminal shows them). Asked only
 * when a turn fails, from the headers: a hook per turn to note it cost every turn a promise.
 */
function isCodexTurn(request: FastifyRequest): boolean {
  if (request.inbound === undefined) return false;
  const { originator, 'user-agent': userAgent } = request.headers;
  return (typeof originator === 'string' && originator.startsWith('codex')) || (typeof userAgent === 'string' && userAgent.startsWith('codex'));
}

function toGatewayError(error: FastifyError | Error): GatewayError {
  if (error instanceof GatewayError) return error;
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', { message: `gatehouse: request body is larger than this gateway accepts (server.body_limit_bytes)` });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_request', { message: `gatehouse: ${fastifyError.message}` });
    default:
      break;
  }
  if (fastifyError.validation) return new GatewayError('invalid_request', { message: `gatehouse: ${fastifyError.message}` });
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new GatewayError('invalid_request', { message: `gatehouse: ${fastifyError.message}`, status: fastifyError.statusCode });
  }
  return new GatewayError('internal_error', { message: 'gatehouse: internal error (see the gateway log for the request id)', cause: error });
}

/**
 * An error as the client gets it: the contract's structured body in the caller's protocol, its status and
 * headers. Denials and authentication failures to Codex CLI go out as 400 so its terminal shows our
 * message at once (it retries 401/403 five times and hides most 429 messages); the contract status
 * stays in `error.gatehouse.status` and the `x-gatehouse-denied-status` header. Also used where an
 * answer is replaced after the hop (the guardrail hook), so both read the same.
 */
export function errorReply(error: GatewayError, request: FastifyRequest, debug = false): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const protocol = request.inbound ?? (request.url.startsWith('/v1/messages') ? 'anthropic-messages' : 'openai-responses');
  const body = renderErrorBody(error, protocol, { requestId: request.id, policyVersion: request.policyVersion ?? null, debug });
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  let status = error.status;
  const isCodex = isCodexTurn(request);
  if (isCodex && CODEX_AT_ONCE_CODES.has(error.code)) {
    status = 400;
    headers['x-gatehouse-denied-status'] = String(error.status);
  }
  // Stainless-generated SDKs (Claude Code's Anthropic client, OpenAI's SDKs) honour this header: a
  // refusal that asking again cannot change is answered once, with our message, instead of after
  // ~10 backed-off retries (Claude Code retries 401/429 otherwise; docs/CLAUDE-CODE.md).
  if (!error.retryable) headers['x-should-retry'] = 'false';
  if (error.retryAfterMillis !== undefined && status === 429) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMillis / 1000));
    headers['retry-after'] = String(isCodex ? Math.min(MAX_RETRY_AFTER_SECONDS, seconds) : seconds);
  }
  headers['x-gatehouse-request-id'] = request.id;
  if (request.policyVersion !== undefined) headers['x-gatehouse-policy-version'] = String(request.policyVersion);
  return { status, headers, body };
}

/** The only error handler: every failure becomes {@link errorReply}'s answer. */
export function registerErrorHandler(app: FastifyInstance, options: { debug: boolean }): void {
  app.setErrorHandler((rawError: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const error = toGatewayError(rawError);
    const level = ERROR_CODES[error.code].level;
    if (level === 'error') request.log.error({ reqId: request.id, err: rawError }, 'request failed');
    else request.log[level]({ reqId: request.id, code: error.code, status: error.status }, error.message);
    const { status, headers, body } = errorReply(error, request, options.debug);
    void reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('not_found', { message: `gatehouse: no route ${request.method} ${request.url.split('?')[0]}` });
    const body = renderErrorBody(error, request.url.startsWith('/v1/messages') ? 'anthropic-messages' : 'openai-responses', { requestId: request.id, policyVersion: null });
    void reply.code(404).send(body);
  });
}

/**
 * The error handler as a plugin. fastify-plugin'd because an error handler is encapsulated: set in a
 * context of its own it would render nothing for the route sets registered beside it.
 */
export const errorHandler = fp(
  async (app: FastifyInstance, options: { debug: boolean }) => {
    registerErrorHandler(app, options);
  },
  { name: 'gatehouse-error-handler' },
);
