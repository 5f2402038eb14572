import { request } from 'undici';
import { GatewayError } from '../errors/gateway-error.ts';
import { upstreamPool } from '../transport/upstream-pool.ts';
import { requestDeadline } from '../transport/request-deadline.ts';
import { classifyTransportError, classifyUpstreamStatus, isResetBeforeAnswer } from '../transport/classify-transport-error.ts';
import type { ForwardOutcome, ForwardRequest } from './forward-types.ts';
import { PASSTHROUGH_PROTOCOLS, type PassthroughProtocol } from './passthrough-protocols.ts';
import { SseSideReader } from './sse-side-reader.ts';
import { withTopLevelMembers } from '../inbound/read-json-body.ts';
import { effortMembers } from './reasoning-effort-wire.ts';

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Client headers that must not travel upstream (hop-by-hop, auth, framing, our own). */
const DROPPED_HEADERS = new Set([
  'host', 'authorization', 'x-api-key', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade',
  'accept-encoding', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'cookie', 'expect',
]);

export function forwardableHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name) || name.startsWith('x-gatehouse-')) continue;
    result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

const urls = new Map<string, URL>();

/** The upstream URL, parsed once per distinct text (a handful per gateway; never mutated). */
function parsedUrl(text: string): URL {
  let url = urls.get(text);
  if (url === undefined) urls.set(text, (url = new URL(text)));
  return url;
}

/** The client's exact bytes unless the model alias, a lowered effort or a needed option forces a rewrite. */
function upstreamBody(forward: ForwardRequest, protocol: PassthroughProtocol): string | Buffer {
  const copy = { ...forward.body };
  const needsModel = copy.model !== forward.target.upstreamModel;
  if (needsModel) copy.model = forward.target.upstreamModel;
  const effort = forward.reasoningEffort === undefined ? {} : effortMembers(forward.inbound, forward.body, forward.reasoningEffort);
  Object.assign(copy, effort);
  const patched = protocol.patchBody(copy, forward.stream);
  if (!needsModel && !patched && Object.keys(effort).length === 0) return forward.rawBody;
  // Splice the changed top-level members (the model alias, the effort, stream_options) instead of re-serialising the history.
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(copy)) if (copy[key] !== forward.body[key]) changes[key] = copy[key];
  return withTopLevelMembers(forward.body, changes) ?? JSON.stringify(copy);
}

async function readErrorBody(body: AsyncIterable<Buffer>): Promise<unknown> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < MAX_ERROR_BODY_BYTES) text += chunk.toString('utf8');
  }
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 500) } };
  }
}

/**
 * Same-protocol pass-through (Responses → OpenAI Responses, Chat → OpenAI-compatible Chat,
 * Messages → Anthropic): the upstream's bytes reach the client unchanged and in order; usage and
 * tool calls are read on the side. Only the `model` field is rewritten when an alias maps elsewhere.
 * What differs per protocol (URL, key header, usage reader) comes from passthrough-protocols.ts.
 */
export async function forwardPassthrough(forward: ForwardRequest): Promise<ForwardOutcome> {
  const { target, sink, timeouts } = forward;
  const protocol = PASSTHROUGH_PROTOCOLS[forward.inbound];
  const url = parsedUrl(protocol.url(target.provider, forward.upstreamPath, forward.query ?? ''));
  const body = upstreamBody(forward, protocol);
  const headers: Record<string, string> = {
    ...forward.forwardHeaders,
    ...target.provider.headers,
    'content-type': 'application/json',
    'accept-encoding': 'identity',
  };
  protocol.addAuth(target.provider, headers, forward.forwardHeaders);

  const started = performance.now();
  const deadline = requestDeadline(sink.signal, timeouts.totalMillis);
  try {
    return await passthroughWithin(forward, protocol, url, body, headers, deadline.signal, started);
  } finally {
    deadline.dispose();
  }
}

async function passthroughWithin(forward: ForwardRequest, protocol: PassthroughProtocol, url: URL, body: string | Buffer, headers: Record<string, string>, signal: AbortSignal, started: number): Promise<ForwardOutcome> {
  const { target } = forward;
  const response = await sendUpstreamOnce(forward, url, body, headers, signal);
  const ttfbMillis = performance.now() - started;

  if (response.statusCode >= 400) {
    const errorBody = await readErrorBody(response.body).catch(() => undefined);
    const retryAfter = response.headers['retry-after'];
    throw classifyUpstreamStatus(response.statusCode, errorBody, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, target.providerName, target.model);
  }

  const contentType = String(response.headers['content-type'] ?? 'application/json');
  const outcome: ForwardOutcome = { status: response.statusCode, usage: undefined, ttfbMillis, warnings: [], toolCalls: [] };
  if (!contentType.includes('text/event-stream')) return relayWhole(forward, protocol, response, contentType, outcome);
  return relayStream(forward, protocol, response, contentType, outcome);
}

type UpstreamAnswer = Awaited<ReturnType<typeof request>>;

/** Sends the request, once more after a reset before any answer byte; a failure becomes a GatewayError. */
async function sendUpstreamOnce(forward: ForwardRequest, url: URL, body: string | Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<UpstreamAnswer> {
  const { target, sink, timeouts } = forward;
  const send = () =>
    request(url, {
      method: 'POST',
      headers,
      body,
      signal,
      dispatcher: upstreamPool(url.origin, timeouts.connectMillis, target.provider.max_concurrency),
      headersTimeout: timeouts.firstByteMillis,
      bodyTimeout: timeouts.idleMillis,
    });
  let response: UpstreamAnswer;
  let resent = 0;
  try {
    response = await send().catch((error: unknown) => {
      // A kept-alive connection reset before any answer byte: the upstream never started this
      // request; send it once more (on another connection) instead of failing the turn.
      if (sink.signal.aborted || signal.aborted || !isResetBeforeAnswer(error)) throw error;
      resent = 1;
      return send();
    });
  } catch (error) {
    if (sink.signal.aborted) throw clientClosed(target.providerName);
    throw classifyTransportError(error, target.providerName, target.model);
  }
  forward.onResent?.(resent);
  return response;
}

/** A non-streamed answer: read whole (usage and tool calls from its JSON), then sent as the same bytes. */
async function relayWhole(forward: ForwardRequest, protocol: PassthroughProtocol, response: UpstreamAnswer, contentType: string, outcome: ForwardOutcome): Promise<ForwardOutcome> {
  const { target, sink } = forward;
  let bytes: Buffer;
  try {
    // The body mixin collects the chunks without an async iterator's promise per chunk.
    const whole = await response.body.bytes();
    bytes = Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength);
  } catch (error) {
    if (sink.signal.aborted) throw clientClosed(target.providerName);
    throw classifyTransportError(error, target.providerName, target.model, 'body');
  }
  try {
    const facts = protocol.readAnswer(JSON.parse(bytes.toString('utf8')) as Record<string, unknown>);
    outcome.usage = facts.usage;
    outcome.toolCalls = facts.toolCalls;
    outcome.upstreamModel = facts.model;
  } catch {
    outcome.warnings.push('upstream body was not JSON; usage unknown');
  }
  sink.start(response.statusCode, { 'content-type': contentType });
  sink.end(bytes);
  return outcome;
}

/** A streamed answer: each chunk goes to the client as it arrives and to the side reader for usage. */
async function relayStream(forward: ForwardRequest, protocol: PassthroughProtocol, response: UpstreamAnswer, contentType: string, outcome: ForwardOutcome): Promise<ForwardOutcome> {
  const { sink } = forward;
  sink.start(response.statusCode, { 'content-type': contentType, 'cache-control': 'no-cache' });
  const reader = new SseSideReader(forward.inbound);
  try {
    await relayChunks(
      response.body,
      (chunk) => {
        sink.write(chunk);
        reader.push(chunk);
      },
      () => sink.holdTail?.(),
    );
  } catch (error) {
    return brokenStream(forward, protocol, reader, outcome, error);
  }
  reader.finish();
  outcome.usage = reader.usage;
  outcome.toolCalls = reader.toolCalls;
  outcome.upstreamModel = reader.model;
  if (!reader.completed) {
    // A stream that stops without its final event is a failure, never a normal finish.
    const message = `gatehouse: upstream closed the stream before ${protocol.finalEvent}`;
    outcome.errorCode = 'upstream_error';
    outcome.errorMessage = message;
    sink.end(protocol.inBandError('upstream_error', message, forward.requestId));
    return outcome;
  }
  if (reader.failed) {
    outcome.errorCode = reader.failed.code;
    outcome.errorMessage = reader.failed.message;
  }
  sink.end();
  return outcome;
}

/**
 * Hands the chunks of `body` to `onChunk` as they arrive and resolves at its end (rejects on its error).
 * Chunks that arrive together (a fast upstream's whole answer comes in one read, one SSE frame per
 * chunk) are handed on once, joined, at the end of that tick: one write to the client and one pass of
 * the side reader instead of one per frame. Listeners, not `for await`: the async iterator's promise
 * per chunk and its end a few ticks after the last chunk were on the path of every turn's last byte.
 * `onEnd` runs in the tick of the end, before the writes of that tick leave (see ReplySink.holdTail).
 */
function relayChunks(body: UpstreamAnswer['body'], onChunk: (chunk: Buffer) => void, onEnd: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let held: Buffer[] = [];
    const flush = () => {
      if (held.length === 0) return;
      const chunk = held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held);
      held = [];
      try {
        onChunk(chunk);
      } catch (error) {
        body.destroy(error as Error);
      }
    };
    body.on('data', (chunk: Buffer) => {
      if (held.length === 0) process.nextTick(flush);
      held.push(chunk);
    });
    let ended = false;
    body.once('end', () => {
      ended = true;
      flush();
      onEnd();
      resolve();
    });
    // What arrived before a failure still reaches the client, then the in-band error.
    body.once('error', (error) => {
      flush();
      reject(error);
    });
    // A body destroyed without an error ends neither way (an Error only then: its stack costs ~20 µs).
    body.once('close', () => {
      if (ended) return;
      flush();
      reject(new Error('upstream body closed before its end'));
    });
  });
}

/** The upstream stream broke after the client got bytes: reported in-band (or just ended if the client left). */
function brokenStream(forward: ForwardRequest, protocol: PassthroughProtocol, reader: SseSideReader, outcome: ForwardOutcome, error: unknown): ForwardOutcome {
  const { target, sink } = forward;
  const transport = classifyTransportError(error, target.providerName, target.model, 'body');
  const finalEvent = protocol.finalEvent;
  const cause = transport.transport;
  const failure = sink.signal.aborted
    ? new GatewayError('upstream_error', { message: 'gatehouse: client disconnected; upstream request aborted' })
    : new GatewayError(transport.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_error', {
        message: `gatehouse: provider "${target.providerName}" stream for model "${target.model}" broke before ${finalEvent} (body: ${cause?.code ?? transport.code}${cause?.detail ? ` ${cause.detail}` : ''})`,
      });
  outcome.transport = sink.signal.aborted ? undefined : cause;
  reader.finish();
  outcome.usage = reader.usage;
  outcome.toolCalls = reader.toolCalls;
  outcome.errorCode = sink.signal.aborted ? 'client_disconnected' : failure.code;
  outcome.errorMessage = failure.message;
  if (!sink.signal.aborted) sink.end(protocol.inBandError(failure.code, failure.message, forward.requestId));
  else sink.end();
  return outcome;
}

/** The client went away before the answer started: nothing to render, nothing to fall back to. */
export function clientClosed(provider: string): GatewayError {
  return new GatewayError('client_closed_request', { message: 'gatehouse: the client closed the connection before the answer started; upstream request aborted', provider });
}
