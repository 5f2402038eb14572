import type { FinishReason } from './finish-reason.ts';
import type { OpaqueData } from './item.ts';
import type { CanonicalUsage } from './usage.ts';

/**
 * The canonical stream. Every stream ends with exactly one `finish` or `error`.
 * Ids (`id`) are unique within one response and tie start/delta/end together.
 */
export type CanonicalEvent =
  | { type: 'response-metadata'; id?: string | undefined; model?: string | undefined }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'reasoning-start'; id: string }
  | { type: 'reasoning-delta'; id: string; delta: string }
  /** `opaque`: signature/encrypted content for the same provider family. */
  | { type: 'reasoning-end'; id: string; opaque?: OpaqueData | undefined }
  | { type: 'tool-call-start'; id: string; callId: string; name: string; kind: 'function' | 'custom'; namespace?: string | undefined }
  | { type: 'tool-call-delta'; id: string; delta: string }
  /** `input`: complete JSON arguments (function) or raw input (custom). */
  | { type: 'tool-call-end'; id: string; input: string; opaque?: OpaqueData | undefined }
  | { type: 'usage'; usage: CanonicalUsage }
  | { type: 'finish'; reason: FinishReason }
  | { type: 'error'; code: StreamErrorCode; message: string; retryable: boolean; upstreamType?: string | undefined; transport?: TransportCause | undefined };

export type StreamErrorCode = 'upstream_error' | 'upstream_rate_limited' | 'upstream_timeout' | 'no_healthy_upstream' | 'internal_error';

export type CanonicalEventType = CanonicalEvent['type'];

/** The phase of an upstream exchange a transport failure happened in. */
export type UpstreamPhase = 'connect' | 'headers' | 'body';

/** The real cause of a transport failure, for logs, spans and the breaker. */
export interface TransportCause {
  phase: UpstreamPhase;
  /** The undici or socket error code (`UND_ERR_SOCKET`, `ECONNRESET`, `UND_ERR_HEADERS_TIMEOUT`…), else the error's name. */
  code: string;
  /** The low-level message (`other side closed`), bounded. */
  detail: string;
}
