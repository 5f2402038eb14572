import type { ProviderConfig } from '../../shared/config/config-schema.ts';
import type { Price } from '../../shared/policy/policy-schema.ts';
import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import type { TransportCause } from '../errors/gateway-error.ts';

/** The client protocols the gateway answers. */
export type InboundProtocol = 'openai-responses' | 'openai-chat' | 'anthropic-messages';

/** A concrete upstream target chosen by the policy decision. */
export interface ResolvedTarget {
  /** Public model name (policy `models` key). */
  model: string;
  /** Model id sent upstream. */
  upstreamModel: string;
  providerName: string;
  provider: ProviderConfig;
  price: Price;
  /** Where `price` came from: `policy`, or the catalog package, version and entry (span `price_source`). */
  priceSource: string;
  /** The policy's `default_max_output_tokens` for the model: the output cap sent to upstreams that need one when the client sets none. */
  defaultMaxOutputTokens?: number | undefined;
}

export interface UpstreamTimeouts {
  connectMillis: number;
  firstByteMillis: number;
  idleMillis: number;
  totalMillis: number;
}

/**
 * Where a forwarder writes the answer. `start` sends status and headers; once it has been
 * called, failures must be reported in-band in the client's protocol (no fallback any more).
 */
export interface ClientSink {
  start(status: number, headers: Record<string, string>): void;
  write(chunk: string | Uint8Array): void;
  end(chunk?: string | Uint8Array): void;
  /**
   * The upstream's answer has ended: what was written but has not left yet goes out with the end, in one
   * write (the end waits for the turn's journal line). Optional: a sink that writes at once ignores it.
   */
  holdTail?(): void;
  readonly started: boolean;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export interface ForwardRequest {
  inbound: InboundProtocol;
  /** Same-protocol pass-through to a path other than the protocol's own (e.g. `/responses/compact`). */
  upstreamPath?: string | undefined;
  /** The client's query string with its `?` (Anthropic SDKs send `?beta=true`), or empty. */
  query?: string | undefined;
  /** Parsed inbound body (the client's protocol). */
  body: Record<string, unknown>;
  /** Exact bytes the client sent, for same-protocol pass-through. */
  rawBody: Buffer;
  /** Inbound headers worth forwarding (already filtered of auth). */
  forwardHeaders: Record<string, string>;
  target: ResolvedTarget;
  /** True when the request's `model` differs from `target.upstreamModel` (body must be rewritten). */
  stream: boolean;
  sink: ClientSink;
  timeouts: UpstreamTimeouts;
  sessionId: string;
  requestId: string;
  /** Effort to send instead of the client's (an optimizer exploration turn of a lowered-effort candidate). */
  reasoningEffort?: string | undefined;
  /** Told how many times the request was sent again after a keep-alive reset before any answer byte (0 or 1). */
  onResent?: ((times: number) => void) | undefined;
}

export interface ForwardOutcome {
  /** HTTP status sent to the client. */
  status: number;
  usage: NormalizedUsage | undefined;
  /** Upstream response-header time, ms since forward start. */
  ttfbMillis: number;
  /** Set when the answer failed after bytes were sent (in-band error). */
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** Things that could not be carried across (dropped reasoning, hosted tools…). */
  warnings: string[];
  /** Tool calls the model made in this turn. */
  toolCalls: OutputToolCall[];
  /** Response id / model as reported upstream. */
  upstreamModel?: string | undefined;
  /** When the answer broke after bytes were sent because of the transport: where and why. */
  transport?: TransportCause | undefined;
}

/**
 * Sends one request to one target. Throws a GatewayError when it fails before `sink.start`
 * (retryable ones let the caller try the next target); never throws after.
 */
export type Forwarder = (request: ForwardRequest) => Promise<ForwardOutcome>;
