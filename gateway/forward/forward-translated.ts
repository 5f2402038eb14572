import type { CanonicalEvent } from '../canonical/event.ts';
import { applyEvent, type CanonicalOutput, type CanonicalResponse } from '../canonical/response.ts';
import { formatWarning } from '../canonical/warning.ts';
import { GatewayError, isGatewayError, type TransportCause } from '../errors/gateway-error.ts';
import { transportCause } from '../transport/classify-transport-error.ts';
import { clientClosed } from './forward-passthrough.ts';
import type { AdapterContext, OutboundRequest, ProviderAdapter } from '../providers/provider-adapter.ts';
import { getProviderAdapter } from '../providers/registry.ts';
import { sendUpstream, UpstreamFailureError, type UpstreamResponse } from '../transport/send-upstream.ts';
import type { OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import type { ForwardOutcome, ForwardRequest, Forwarder } from './forward-types.ts';
import { INBOUND_PROTOCOLS, type InboundProtocolConverters } from './inbound-protocols.ts';
import type { StreamRenderer } from '../inbound/render-context.ts';
import { prepareRequest } from './prepare-request.ts';
import { restoreToolIdentity } from './restore-tool-identity.ts';

/**
 * Forwards across protocols: inbound body → canonical → target adapter → transport → canonical
 * events → the inbound protocol, streamed as they arrive. Upstream is always asked to stream (idle
 * timeouts work, and a non-streaming client just gets the folded result). Throws a GatewayError
 * before `sink.start` — including when the upstream fails before its first content event, so the
 * caller can still fall back — and never throws after.
 */
export const forwardTranslated: Forwarder = async (request: ForwardRequest): Promise<ForwardOutcome> => {
  const started = performance.now();
  const protocol = INBOUND_PROTOCOLS[request.inbound];
  const adapter = getProviderAdapter(request.target.provider.type);
  const { prepared, outbound, context, warnings } = buildOutbound(request, protocol, adapter);
  const upstream = await openUpstream(request, adapter, outbound);
  const ttfbMillis = performance.now() - started;
  const events = restoreToolIdentity(adapter.parseStream(upstream.events(), context), prepared.identities);
  const iterator = events[Symbol.asyncIterator]();
  const collected: CanonicalResponse = { id: undefined, model: undefined, output: [], usage: undefined, finish: undefined, error: undefined };
  const open = new Map<string, CanonicalOutput>();
  // The body names the model that served (after a fallback or downgrade, not the one asked for).
  const renderContext = { requestId: request.requestId, model: request.target.model, createdAt: Math.floor(Date.now() / 1000), body: request.body };
  const held = await holdUntilOutput(request, iterator);
  const outcome = (errorEvent: OutcomeError | undefined, deltaEvents: number): ForwardOutcome => ({
    status: 200,
    usage: errorEvent === undefined ? collected.usage : partialUsage(collected.usage, deltaEvents),
    ttfbMillis,
    errorCode: errorEvent?.code,
    errorMessage: errorEvent?.message,
    warnings,
    toolCalls: toolCallsOf(collected),
    upstreamModel: collected.model,
    transport: errorEvent?.transport,
  });

  if (!request.stream) {
    await foldRest(request, iterator, held, collected, open);
    const body = JSON.stringify(protocol.renderBody(collected, renderContext));
    request.sink.start(200, { 'content-type': 'application/json' });
    request.sink.end(body);
    return outcome(undefined, 0);
  }
  const deltaEvents = await streamAnswer(request, protocol.createStreamRenderer(renderContext), iterator, held, collected, open);
  if (request.sink.signal.aborted) {
    await iterator.return?.();
    request.sink.end();
    // Whatever the aborted upstream read reported, the cause is the client going away.
    return outcome({ code: 'client_disconnected', message: 'gatehouse: client disconnected; upstream request aborted' }, deltaEvents);
  }
  request.sink.end();
  return outcome(collected.error, deltaEvents);
};

type OutcomeError = { code: string; message: string; transport?: TransportCause | undefined };
type EventIterator = AsyncIterator<CanonicalEvent>;

/** Inbound body → canonical → the adapter's wire request, with every translation warning gathered. */
function buildOutbound(request: ForwardRequest, protocol: InboundProtocolConverters, adapter: ProviderAdapter) {
  const conversion = protocol.toCanonical(request.body, request.target.upstreamModel);
  // A lowered effort (optimizer exploration) replaces the client's before the adapter maps it to its wire.
  const reasoningEffort = request.reasoningEffort ?? conversion.request.reasoningEffort;
  const prepared = prepareRequest({ ...conversion.request, model: request.target.upstreamModel, stream: true, reasoningEffort }, adapter.capabilities);
  const warnings: string[] = [];
  const context: AdapterContext = { providerName: request.target.providerName, provider: request.target.provider, requestId: request.requestId, forwardHeaders: request.forwardHeaders, defaultMaxOutputTokens: request.target.defaultMaxOutputTokens, warn: (item) => warnings.push(formatWarning(item)) };
  let outbound: OutboundRequest;
  try {
    outbound = adapter.buildRequest(prepared.request, context);
  } catch (error) {
    throw new GatewayError('internal_error', { message: `gatehouse: could not build the ${adapter.id} request: ${(error as Error).message}`, provider: request.target.providerName, cause: error });
  }
  // Stream parsers add to it (context.warn) while the answer streams; the outcome reads it at the end.
  warnings.push(...[...conversion.warnings, ...prepared.warnings, ...outbound.warnings].map(formatWarning));
  return { prepared, outbound, context, warnings };
}

/** Sends the request; a failure becomes the adapter's GatewayError (or client_closed when the client left). */
async function openUpstream(request: ForwardRequest, adapter: ProviderAdapter, outbound: OutboundRequest): Promise<UpstreamResponse> {
  try {
    return await sendUpstream(outbound, { timeouts: request.timeouts, signal: request.sink.signal, maxConnections: request.target.provider.max_concurrency, onResent: request.onResent });
  } catch (error) {
    if (request.sink.signal.aborted) throw clientClosed(request.target.providerName);
    if (error instanceof UpstreamFailureError) {
      const failure = withProvider(adapter.classifyError(error.failure), request.target.providerName);
      if (error.failure.kind !== 'http') failure.transport ??= transportCause(error.failure.cause, 'before-answer');
      throw failure;
    }
    throw new GatewayError('upstream_error', { message: `gatehouse: upstream ${request.target.providerName} failed`, retryable: true, provider: request.target.providerName, cause: error });
  }
}

/** An error event read before the client saw anything: thrown, so the caller can still fall back. */
function failBeforeStart(request: ForwardRequest, event: Extract<CanonicalEvent, { type: 'error' }>): never {
  // The client went away: the aborted read is not the upstream failing.
  if (request.sink.signal.aborted) throw clientClosed(request.target.providerName);
  throw withProvider(streamErrorToGatewayError(event, request.target.providerName), request.target.providerName);
}

/** Holds events until the first real output: a failure before it can still fall back. */
async function holdUntilOutput(request: ForwardRequest, iterator: EventIterator): Promise<CanonicalEvent[]> {
  const held: CanonicalEvent[] = [];
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    const event = next.value;
    if (event.type === 'error') failBeforeStart(request, event);
    held.push(event);
    if (event.type !== 'response-metadata' && event.type !== 'usage') break;
  }
  return held;
}

/** A non-streaming client: the whole answer is folded before anything is sent, so any error still throws. */
async function foldRest(request: ForwardRequest, iterator: EventIterator, held: CanonicalEvent[], collected: CanonicalResponse, open: Map<string, CanonicalOutput>): Promise<void> {
  for (const event of held) applyEvent(collected, open, event);
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    if (next.value.type === 'error') failBeforeStart(request, next.value);
    applyEvent(collected, open, next.value);
  }
}

/**
 * A streaming client: each event is folded and rendered as it arrives. Never throws after start (a
 * failure is reported in-band). Returns the output deltas seen: the output estimate when the stream
 * is cut before the upstream's usage.
 */
async function streamAnswer(request: ForwardRequest, renderer: StreamRenderer, iterator: EventIterator, held: CanonicalEvent[], collected: CanonicalResponse, open: Map<string, CanonicalOutput>): Promise<number> {
  let deltaEvents = 0;
  request.sink.start(200, { 'content-type': renderer.contentType, 'cache-control': 'no-cache' });
  try {
    for (const event of held) {
      if (DELTA_EVENTS.has(event.type)) deltaEvents++;
      applyEvent(collected, open, event);
      write(request, renderer.render(event));
    }
    while (!request.sink.signal.aborted) {
      const next = await iterator.next();
      if (next.done === true) break;
      if (DELTA_EVENTS.has(next.value.type)) deltaEvents++;
      applyEvent(collected, open, next.value);
      write(request, renderer.render(next.value));
    }
  } catch (error) {
    const event: CanonicalEvent = { type: 'error', code: 'internal_error', message: `gatehouse: translation failed mid-stream: ${(error as Error).message}`, retryable: false };
    collected.error = event;
    try {
      write(request, renderer.render(event));
    } catch {
      // The renderer itself failed; the stream just ends.
    }
  }
  return deltaEvents;
}

const DELTA_EVENTS = new Set<CanonicalEvent['type']>(['text-delta', 'tool-call-delta', 'reasoning-delta']);

/** Usage of a stream cut short: what the upstream reported so far, output at least the deltas seen. */
function partialUsage(reported: CanonicalResponse['usage'], deltaEvents: number): CanonicalResponse['usage'] {
  if (reported === undefined) return deltaEvents > 0 ? { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: deltaEvents, reasoningTokens: 0 } : undefined;
  return reported.outputTokens >= deltaEvents ? reported : { ...reported, outputTokens: deltaEvents };
}

function write(request: ForwardRequest, text: string): void {
  if (text !== '') request.sink.write(text);
}

function toolCallsOf(response: CanonicalResponse): OutputToolCall[] {
  return response.output.flatMap((item) => (item.type === 'tool-call' ? [{ callId: item.callId, name: item.namespace !== undefined ? `${item.namespace}.${item.name}` : item.name, kind: item.kind, input: item.input }] : []));
}

function streamErrorToGatewayError(event: Extract<CanonicalEvent, { type: 'error' }>, provider: string): GatewayError {
  return new GatewayError(event.code, { message: event.message, retryable: event.retryable, provider, ...(event.upstreamType !== undefined ? { upstream: { type: event.upstreamType } } : {}), ...(event.transport !== undefined ? { transport: event.transport } : {}) });
}

function withProvider(error: GatewayError, providerName: string): GatewayError {
  if (!isGatewayError(error) || error.provider === providerName) return error;
  return new GatewayError(error.code, {
    message: error.message,
    status: error.status,
    param: error.param,
    retryable: error.retryable,
    ...(error.retryAfterMillis !== undefined ? { retryAfterMillis: error.retryAfterMillis } : {}),
    provider: providerName,
    ...(error.upstream !== undefined ? { upstream: error.upstream } : {}),
    ...(error.transport !== undefined ? { transport: error.transport } : {}),
    cause: error.cause,
  });
}
