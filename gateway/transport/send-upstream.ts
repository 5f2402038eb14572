import type { UpstreamTimeouts } from '../forward/forward-types.ts';
import type { OutboundRequest, UpstreamFailure, WireEvent } from '../providers/provider-adapter.ts';
import { decodeSse } from './decode-sse.ts';
import { upstreamPool } from './upstream-pool.ts';
import { isResetBeforeAnswer } from './classify-transport-error.ts';
import { requestDeadline } from './request-deadline.ts';

/** A 2xx upstream answer whose body has not been read yet. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** Decoded stream events (SSE or AWS event-stream per `streamFormat`). */
  events(): AsyncIterable<WireEvent>;
  /** Whole JSON body (non-streaming). */
  json(): Promise<unknown>;
  /** Milliseconds from send to response headers. */
  ttfbMillis: number;
}

/** Thrown by the transport for a failure before a 2xx response; adapters classify it. */
export class UpstreamFailureError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure) {
    super(`upstream ${failure.kind}${failure.status !== undefined ? ` ${failure.status}` : ''}`, { cause: failure.cause });
    this.name = 'UpstreamFailureError';
    this.failure = failure;
  }
}

export interface SendOptions {
  timeouts: UpstreamTimeouts;
  signal?: AbortSignal | undefined;
  maxConnections?: number | undefined;
  /** Told when the request was sent again after a keep-alive reset before any answer byte. */
  onResent?: ((times: number) => void) | undefined;
}

const urls = new Map<string, URL>();

/** Upstream URLs parsed once each (a handful per gateway; never mutated). */
function parsedUrl(text: string): URL {
  let url = urls.get(text);
  if (url === undefined) {
    url = new URL(text);
    if (urls.size < 1_000) urls.set(text, url);
  }
  return url;
}

/** A non-2xx answer as an UpstreamFailureError carrying its (JSON if it parses) error body; frees the deadline. */
async function httpFailure(response: { statusCode: number; body: { text(): Promise<string> } }, headers: Record<string, string>, deadline: { dispose(): void }): Promise<UpstreamFailureError> {
  let text = '';
  try {
    text = (await response.body.text()).slice(0, 64 * 1024);
  } catch {
    // The error body is best effort; the status says enough.
  } finally {
    deadline.dispose();
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return new UpstreamFailureError({ kind: 'http', status: response.statusCode, headers, body });
}

/**
 * Sends one request on the upstream's kept-alive pool with connect / first-byte / idle / total
 * timeouts. Non-2xx answers are read (bounded) and thrown as UpstreamFailureError.
 */
export async function sendUpstream(request: OutboundRequest, options: SendOptions): Promise<UpstreamResponse> {
  const started = performance.now();
  const url = parsedUrl(request.url);
  const aws = request.aws !== undefined || request.streamFormat === 'aws-eventstream' ? await loadAws() : undefined;
  const headers = request.aws !== undefined && aws ? await aws.signAwsRequest(request) : request.headers;
  // One controller and one timer per request, cleared when the answer is read (AbortSignal.any with
  // AbortSignal.timeout keeps weak references and a finalization registry alive per request).
  const deadline = requestDeadline(options.signal, options.timeouts.totalMillis);
  const signal = deadline.signal;
  const pool = upstreamPool(url.origin, options.timeouts.connectMillis, options.maxConnections);
  const send = () =>
    pool.request({
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers,
      body: request.body,
      signal,
      headersTimeout: options.timeouts.firstByteMillis,
      bodyTimeout: options.timeouts.idleMillis,
    });
  let response;
  try {
    response = await send().catch((error: unknown) => {
      // A kept-alive connection reset before any answer byte: the upstream never started this
      // request; send it once more (on another connection) instead of failing the turn.
      if (signal.aborted || !isResetBeforeAnswer(error)) throw error;
      options.onResent?.(1);
      return send();
    });
  } catch (error) {
    deadline.dispose();
    throw new UpstreamFailureError(describeFailure(error, deadline.expired));
  }
  const ttfbMillis = performance.now() - started;
  const responseHeaders: Record<string, string> = {};
  for (const key in response.headers) {
    const value = response.headers[key];
    if (value !== undefined) responseHeaders[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (response.statusCode < 200 || response.statusCode >= 300) throw await httpFailure(response, responseHeaders, deadline);
  const body = response.body;
  return {
    status: response.statusCode,
    headers: responseHeaders,
    ttfbMillis,
    events: () => (request.streamFormat === 'aws-eventstream' && aws ? untilDone(aws.decodeAwsEventStream(body), deadline.dispose) : decodeSse(body, deadline.dispose)),
    json: () => body.json().finally(deadline.dispose),
  };
}

type AwsModules = typeof import('./sign-aws-request.ts') & typeof import('./decode-aws-event-stream.ts');
let awsModules: Promise<AwsModules> | undefined;

/**
 * Bedrock's signer and event-stream codec, loaded by the first Bedrock request rather than by every
 * gateway (every module a process holds is heap each full collection marks again), once.
 */
function loadAws(): Promise<AwsModules> {
  awsModules ??= Promise.all([import('./sign-aws-request.ts'), import('./decode-aws-event-stream.ts')]).then(([sign, decode]) => ({ ...sign, ...decode }));
  return awsModules;
}

/** Passes the events on and stops the request's deadline once the stream is done, however it ends. */
async function* untilDone(events: AsyncIterable<WireEvent>, done: () => void): AsyncIterable<WireEvent> {
  try {
    yield* events;
  } finally {
    done();
  }
}

function describeFailure(error: unknown, deadlineExpired: boolean): UpstreamFailure {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const causeCode = typeof error === 'object' && error !== null ? ((error as { cause?: { code?: unknown } }).cause?.code ?? undefined) : undefined;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'timeout', timeoutPhase: 'connect', cause: error };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'timeout', timeoutPhase: 'first-byte', cause: error };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', timeoutPhase: 'idle', cause: error };
  if (deadlineExpired) return { kind: 'timeout', timeoutPhase: 'total', cause: error };
  if (code === 'UND_ERR_ABORTED' || (error as { name?: unknown })?.name === 'AbortError') return { kind: 'aborted', cause: error };
  if (code === 'ECONNREFUSED' || causeCode === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'connect', cause: error };
  return { kind: 'network', cause: error };
}
