import type { ProviderConfig } from '../../shared/config/config-schema.ts';
import type { CanonicalEvent } from '../canonical/event.ts';
import type { ProviderFamily } from '../canonical/item.ts';
import type { CanonicalRequest } from '../canonical/request.ts';
import type { CanonicalResponse } from '../canonical/response.ts';
import type { TranslationWarning } from '../canonical/warning.ts';
import type { GatewayError } from '../errors/gateway-error.ts';

/** Outbound adapter ids, derived from the provider definitions. */
export type { ProviderId } from './registry.ts';

/** What an adapter can carry natively; the translation step adapts or warns about the rest. */
export interface ProviderCapabilities {
  /** Which opaque reasoning/signature data this upstream reads back. */
  family: ProviderFamily;
  /** Freeform `custom` tools natively (else: sent as a function with one `input` string). */
  customTools: boolean;
  /** `namespace` tool groups natively (else: flattened to `<namespace>__<name>`). */
  namespaceTools: boolean;
  /** Hosted tool types passed through as-is; others are dropped with a warning. */
  hostedTools: readonly string[];
  /** Returns tool call ids (Gemini 2.5 does not: calls are matched by order and name). */
  toolCallIds: boolean;
  reasoning: boolean;
  images: boolean;
  /** How the upstream frames its stream. */
  streamFormat: 'sse' | 'aws-eventstream';
}

/** Per-request facts an adapter may need; never mutated. */
export interface AdapterContext {
  providerName: string;
  provider: ProviderConfig;
  requestId: string;
  /** Headers from the client worth forwarding upstream (already filtered of auth). */
  forwardHeaders?: Record<string, string> | undefined;
  /** Output cap for upstreams that require one (Anthropic's `max_tokens`) when the request has none: the model's `default_max_output_tokens`. */
  defaultMaxOutputTokens?: number | undefined;
  /** Where a stream parser reports what it could not read (an unparseable event): onto the span's warnings. */
  warn?: ((warning: TranslationWarning) => void) | undefined;
}

/** An HTTP request the transport sends as-is (after signing when `aws` is set). */
export interface OutboundRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  streamFormat: 'sse' | 'aws-eventstream' | 'json';
  /** SigV4 signing done by the transport (Bedrock). */
  aws?: { region: string; service: string; accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  warnings: TranslationWarning[];
}

/** One upstream stream event: SSE `event:`/`data:`, or an AWS event-stream message. */
export interface WireEvent {
  /** SSE event name, or AWS `:event-type` / `:exception-type`. */
  type: string | undefined;
  data: string;
  /** AWS `:message-type` is `exception` (in-stream error). */
  exception?: boolean | undefined;
}

/** Why an upstream call failed, in structured fields only (never message matching). */
export interface UpstreamFailure {
  kind: 'http' | 'connect' | 'timeout' | 'aborted' | 'network';
  status?: number | undefined;
  headers?: Record<string, string> | undefined;
  /** Parsed JSON body when it was JSON, else the text. */
  body?: unknown;
  timeoutPhase?: 'connect' | 'first-byte' | 'idle' | 'total' | undefined;
  cause?: unknown;
}

/** The one interface every `providers/<id>/` implements. Pure: no I/O. */
export interface ProviderAdapter {
  /** The provider's config `type`, set by `defineProvider` from its definition. */
  readonly id: string;
  readonly capabilities: ProviderCapabilities;
  buildRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest;
  parseStream(events: AsyncIterable<WireEvent>, context: AdapterContext): AsyncIterable<CanonicalEvent>;
  parseResponse(body: unknown, context: AdapterContext): CanonicalResponse;
  classifyError(failure: UpstreamFailure): GatewayError;
}
