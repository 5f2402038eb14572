import type { TransportCause, UpstreamPhase } from '../canonical/event.ts';
import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export type { TransportCause, UpstreamPhase };

/** One upstream try, kept on errors from a fallback chain and on spans. */
export interface UpstreamAttempt {
  model: string;
  provider: string;
  status?: number | undefined;
  code?: string | undefined;
  durationMillis: number;
  reason?: string | undefined;
  /** Where a transport failure happened and what the socket said (e.g. `body`, `UND_ERR_SOCKET`). */
  phase?: UpstreamPhase | undefined;
  cause?: string | undefined;
  /** `panic`: sent although its circuit was open, because every target the request could use was open. */
  breaker?: 'panic' | undefined;
  /** Times the request was sent again after its reused keep-alive connection was reset before any answer byte. */
  resent?: number | undefined;
}


export interface GatewayErrorOptions {
  message: string;
  status?: number;
  param?: string | null;
  retryable?: boolean;
  retryAfterMillis?: number;
  provider?: string;
  upstream?: { status?: number; type?: string | undefined; code?: string | undefined; param?: string | undefined; body?: unknown };
  attempts?: UpstreamAttempt[];
  transport?: TransportCause;
  costCenter?: string;
  model?: string;
  cause?: unknown;
}

/** The one error class of the gateway; rendered at the edge in the caller's protocol. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly retryAfterMillis: number | undefined;
  readonly provider: string | undefined;
  readonly upstream: GatewayErrorOptions['upstream'];
  attempts: UpstreamAttempt[];
  /** Set on transport failures: phase and low-level code (never parsed from the message). */
  transport: TransportCause | undefined;
  readonly costCenter: string | undefined;
  readonly model: string | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions) {
    super(options.message, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.param = options.param ?? null;
    this.retryable = options.retryable ?? false;
    this.retryAfterMillis = options.retryAfterMillis;
    this.provider = options.provider;
    this.upstream = options.upstream;
    this.attempts = options.attempts ?? [];
    this.transport = options.transport;
    this.costCenter = options.costCenter;
    this.model = options.model;
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}
