import { errors as undiciErrors } from 'undici';
import { GatewayError } from '../errors/gateway-error.ts';

/** Connection-level failures (no HTTP status) → GatewayError, retryable so a fallback can take over. */
export function classifyTransportError(error: unknown, provider: string, model: string): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: string }).code ?? '';
  const timeouts = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
  if (error instanceof undiciErrors.ConnectTimeoutError || error instanceof undiciErrors.HeadersTimeoutError || timeouts.has(code) || (error as Error).name === 'TimeoutError') {
    return new GatewayError('upstream_timeout', {
      message: `gatehouse: provider "${provider}" did not answer in time for model "${model}" (${code || 'timeout'})`,
      retryable: true,
      provider,
      cause: error,
    });
  }
  return new GatewayError('no_healthy_upstream', {
    message: `gatehouse: cannot reach provider "${provider}" for model "${model}" (${code || (error as Error).message})`,
    retryable: true,
    provider,
    cause: error,
  });
}

/** An upstream HTTP error answer → GatewayError from structured fields only (status, type, code, Retry-After). */
export function classifyUpstreamStatus(status: number, body: unknown, retryAfterHeader: string | undefined, provider: string, model: string): GatewayError {
  const error = (body as { error?: { type?: string; code?: string; message?: string } } | undefined)?.error;
  const upstream = { status, type: error?.type, code: error?.code ?? undefined };
  const retryAfterSeconds = retryAfterHeader ? Number.parseFloat(retryAfterHeader) : Number.NaN;
  const retryAfterMillis = Number.isFinite(retryAfterSeconds) ? retryAfterSeconds * 1000 : undefined;
  const upstreamWords = error?.message ? `: ${error.message.slice(0, 500)}` : '';
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', {
      message: `gatehouse: provider "${provider}" rate-limited model "${model}"${upstreamWords}`,
      retryable: true,
      ...(retryAfterMillis === undefined ? {} : { retryAfterMillis }),
      provider,
      upstream,
    });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new GatewayError('upstream_error', {
      message: `gatehouse: provider "${provider}" failed for model "${model}" (HTTP ${status})${upstreamWords}`,
      retryable: true,
      provider,
      upstream,
    });
  }
  if (status === 401 || status === 403) {
    return new GatewayError('upstream_error', {
      message: `gatehouse: provider "${provider}" refused the gateway's credentials (HTTP ${status}); this is a gateway configuration problem, tell your platform team`,
      provider,
      upstream,
    });
  }
  return new GatewayError('invalid_request', {
    message: `gatehouse: provider "${provider}" rejected the request for model "${model}" (HTTP ${status})${upstreamWords}`,
    status: status === 404 ? 400 : status,
    provider,
    upstream,
  });
}
