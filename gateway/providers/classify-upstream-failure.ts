import { GatewayError } from '../errors/gateway-error.ts';
import type { UpstreamFailure } from './provider-adapter.ts';

/** Structured fields an adapter extracted from its provider's error body. */
export interface UpstreamErrorFields {
  type?: string | undefined;
  code?: string | undefined;
  /** The request field the upstream blamed (OpenAI `param`). */
  param?: string | undefined;
  message?: string | undefined;
  /** Adapter override of the status-based retry rule (e.g. OpenAI `insufficient_quota` is final). */
  retryable?: boolean | undefined;
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 529]);

/**
 * Shared status → GatewayError rule of every adapter: retryable for 408/409/429/5xx/529,
 * connection errors and timeouts; the message names the provider and never contains headers.
 */
export function classifyUpstreamFailure(provider: string, failure: UpstreamFailure, fields: UpstreamErrorFields): GatewayError {
  const retryAfterMillis = parseRetryAfter(failure.headers);
  if (failure.kind === 'timeout') {
    return new GatewayError('upstream_timeout', {
      message: `gatehouse: upstream ${provider} timed out (${failure.timeoutPhase ?? 'total'} timeout)`,
      retryable: true,
      provider,
      cause: failure.cause,
    });
  }
  if (failure.kind === 'connect' || failure.kind === 'network' || failure.kind === 'aborted') {
    return new GatewayError('upstream_error', {
      message: `gatehouse: could not reach upstream ${provider} (${failure.kind === 'connect' ? 'connection failed' : failure.kind === 'aborted' ? 'request aborted' : 'connection lost'})`,
      retryable: failure.kind !== 'aborted',
      provider,
      cause: failure.cause,
    });
  }
  const status = failure.status ?? 502;
  const retryable = fields.retryable ?? (RETRYABLE_STATUS.has(status) || status >= 500);
  const upstream = { status, type: fields.type, code: fields.code, ...(fields.param !== undefined ? { param: fields.param } : {}) };
  const detail = fields.message !== undefined ? `: ${fields.message}` : '';
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', {
      message: `gatehouse: upstream ${provider} rate-limited the request${detail}`,
      retryable,
      ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}),
      provider,
      upstream,
    });
  }
  if (status === 408 || status === 504) {
    return new GatewayError('upstream_timeout', { message: `gatehouse: upstream ${provider} timed out (HTTP ${status})${detail}`, retryable, provider, upstream });
  }
  if (status === 529 || status === 503) {
    return new GatewayError('no_healthy_upstream', {
      message: `gatehouse: upstream ${provider} is overloaded (HTTP ${status})${detail}`,
      retryable,
      ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}),
      provider,
      upstream,
    });
  }
  if (status >= 400 && status < 500) {
    // The client's request was refused upstream: pass the status through so it is not retried as a 5xx.
    return new GatewayError(status === 400 || status === 413 || status === 422 ? 'invalid_request' : 'upstream_error', {
      message: `gatehouse: upstream ${provider} rejected the request (HTTP ${status})${detail}`,
      status: status === 401 || status === 403 ? 502 : status === 422 ? 400 : status,
      retryable,
      provider,
      upstream,
    });
  }
  return new GatewayError('upstream_error', { message: `gatehouse: upstream ${provider} failed (HTTP ${status})${detail}`, retryable, provider, upstream });
}

function parseRetryAfter(headers: Record<string, string> | undefined): number | undefined {
  if (headers === undefined) return undefined;
  const millis = headers['retry-after-ms'];
  if (millis !== undefined && Number.isFinite(Number(millis))) return Number(millis);
  const seconds = headers['retry-after'];
  if (seconds === undefined) return undefined;
  if (Number.isFinite(Number(seconds))) return Number(seconds) * 1000;
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Reads `{error:{type,code,param,message}}` (OpenAI, Anthropic, Gemini `status`) without trusting the shape. */
export function readErrorFields(body: unknown): UpstreamErrorFields {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' && body !== '' ? { message: body.slice(0, 500) } : {};
  const record = body as Record<string, unknown>;
  const error = (typeof record['error'] === 'object' && record['error'] !== null ? record['error'] : record) as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  return { type: text(error['type']) ?? text(error['status']), code: text(error['code']), param: text(error['param']), message: text(error['message'])?.slice(0, 500) };
}
