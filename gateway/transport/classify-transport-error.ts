import { errors as undiciErrors } from 'undici';
import { GatewayError, type TransportCause, type UpstreamPhase } from '../errors/gateway-error.ts';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']);
/** A kept-alive connection the upstream closed while the request was on its way (the classic keep-alive race). */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** The first error code (undici's `UND_ERR_*` or a socket errno) along the cause chain. */
function lowLevelError(error: unknown): { code: string; detail: string; socket: { bytesRead?: number } | undefined } {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const candidate = current as { code?: unknown; message?: unknown; name?: unknown; socket?: { bytesRead?: number }; cause?: unknown };
    if (typeof candidate.code === 'string' && candidate.code !== '') {
      return { code: candidate.code, detail: String(candidate.message ?? '').slice(0, 200), socket: candidate.socket };
    }
    current = candidate.cause;
  }
  const named = error as { name?: unknown; message?: unknown } | undefined;
  return { code: typeof named?.name === 'string' ? named.name : 'Error', detail: String(named?.message ?? '').slice(0, 200), socket: undefined };
}

/**
 * The real cause of a transport failure: the phase it happened in (a failure before the response
 * headers is `connect` when the socket never connected, else `headers`) and the low-level code.
 */
export function transportCause(error: unknown, phase: UpstreamPhase | 'before-answer'): TransportCause {
  const { code, detail } = lowLevelError(error);
  const resolved: UpstreamPhase = phase === 'before-answer' ? (CONNECT_CODES.has(code) ? 'connect' : 'headers') : phase;
  return { phase: resolved, code, detail };
}

/**
 * Whether a request failed because its kept-alive connection was reset before any byte of the answer
 * arrived: the upstream closed an idle connection just as the request went out on it. Such a request
 * is safe to send once more on another connection (the upstream never started it). Only failures
 * before the response headers get here; a connection that never connected (ECONNREFUSED) is not one.
 * When undici says which socket it was, a socket that had read nothing was a fresh connection, and a
 * fresh connection reset is not the keep-alive race.
 */
export function isResetBeforeAnswer(error: unknown): boolean {
  const { code, socket } = lowLevelError(error);
  if (!RESET_CODES.has(code)) return false;
  return socket?.bytesRead === undefined || socket.bytesRead > 0;
}

/** Connection-level failures (no HTTP status) → GatewayError, retryable so a fallback can take over. */
export function classifyTransportError(error: unknown, provider: string, model: string, phase: UpstreamPhase | 'before-answer' = 'before-answer'): GatewayError {
  if (error instanceof GatewayError) return error;
  const transport = transportCause(error, phase);
  const code = (error as { code?: string }).code ?? '';
  const timeouts = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
  if (error instanceof undiciErrors.ConnectTimeoutError || error instanceof undiciErrors.HeadersTimeoutError || timeouts.has(code) || (error as Error).name === 'TimeoutError') {
    return new GatewayError('upstream_timeout', {
      message: `gatehouse: provider "${provider}" did not answer in time for model "${model}" (${code || 'timeout'})`,
      retryable: true,
      provider,
      transport,
      cause: error,
    });
  }
  return new GatewayError('no_healthy_upstream', {
    message: `gatehouse: ${transport.phase === 'connect' ? 'cannot reach' : 'lost the connection to'} provider "${provider}" for model "${model}" (${transport.phase}: ${transport.code}${transport.detail ? ` ${transport.detail}` : ''})`,
    retryable: true,
    provider,
    transport,
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
