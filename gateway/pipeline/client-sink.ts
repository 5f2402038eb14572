import type { FastifyReply } from 'fastify';
import type { ClientSink } from '../forward/forward-types.ts';

/**
 * A ClientSink over Fastify's raw response. `start` hijacks the reply (Fastify no longer touches it),
 * so errors thrown before `start` still go through the error handler in the caller's protocol.
 */
export class ReplySink implements ClientSink {
  private readonly reply: FastifyReply;
  private readonly baseHeaders: Record<string, string>;
  private readonly controller = new AbortController();
  started = false;
  finished = false;
  /** Time the first byte went to the client, ms since the sink was created. */
  firstByteMillis = 0;
  private readonly createdAt = performance.now();

  constructor(reply: FastifyReply, baseHeaders: Record<string, string>) {
    this.reply = reply;
    this.baseHeaders = baseHeaders;
    reply.raw.on('close', () => {
      if (!this.finished) this.controller.abort();
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Adds headers decided after construction (served model, provider…). Only before `start`. */
  setHeader(name: string, value: string): void {
    this.baseHeaders[name] = value;
  }

  /** Set by `defer()`: the answer is kept here instead of sent, until `flushDeferred`. */
  private deferral: { status: number; headers: Record<string, string>; chunks: Buffer[] } | undefined;
  private deferring = false;

  /**
   * Keeps a whole (non-streaming) answer in the gateway instead of sending it, so a check after the hop
   * (the guardrail hook) can let it through, change it or replace it with an error. `started` still turns
   * true on `start`, so no fallback is tried once an answer exists.
   */
  defer(): void {
    this.deferring = true;
  }

  /** Set by `tee()`: a copy of what was sent, up to a limit (undefined once it passed the limit). */
  private copy: { chunks: Buffer[]; bytes: number; limit: number } | undefined;
  private copyOverflowed = false;

  /**
   * Keeps a copy of the answer as it is sent (a stream is never held), up to `limitBytes`, so the
   * guardrail hook can judge it after it ended.
   */
  tee(limitBytes: number): void {
    this.copy = { chunks: [], bytes: 0, limit: limitBytes };
  }

  /** The copied answer, or undefined without `tee()` or when it outgrew the limit. */
  get teed(): Buffer | undefined {
    return this.copy && !this.copyOverflowed ? Buffer.concat(this.copy.chunks) : undefined;
  }

  private keepCopy(chunk: string | Uint8Array): void {
    const copy = this.copy;
    if (!copy || this.copyOverflowed) return;
    const bytes = Buffer.from(chunk);
    copy.bytes += bytes.length;
    if (copy.bytes > copy.limit) {
      this.copyOverflowed = true;
      copy.chunks = [];
    } else copy.chunks.push(bytes);
  }

  /** The kept answer, if `defer()` was called and the forwarder produced one. */
  get deferred(): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
    return this.deferral ? { status: this.deferral.status, headers: this.deferral.headers, body: Buffer.concat(this.deferral.chunks) } : undefined;
  }

  /** Sends the kept answer, or `replacement` in its place. */
  flushDeferred(replacement?: { status: number; headers: Record<string, string>; body: string | Uint8Array }): void {
    const kept = this.deferral;
    this.deferring = false;
    this.deferral = undefined;
    if (!kept) return;
    this.started = false;
    this.start(replacement?.status ?? kept.status, replacement?.headers ?? kept.headers);
    this.end(replacement ? replacement.body : Buffer.concat(kept.chunks));
  }

  start(status: number, headers: Record<string, string>): void {
    if (this.started) return;
    this.started = true;
    if (this.deferring) {
      this.deferral = { status, headers, chunks: [] };
      return;
    }
    this.reply.hijack();
    // Headers leave with the first body write: one syscall instead of two.
    this.reply.raw.writeHead(status, { ...headers, ...this.baseHeaders });
    this.firstByteMillis = performance.now() - this.createdAt;
  }

  write(chunk: string | Uint8Array): void {
    if (this.deferral) {
      this.deferral.chunks.push(Buffer.from(chunk));
      return;
    }
    if (this.copy) this.keepCopy(chunk);
    if (!this.reply.raw.destroyed) this.reply.raw.write(chunk);
  }

  /**
   * Node writes a response's chunks on the next tick (a cork per write); the upstream's last read and its
   * end come in the same tick, so corking here keeps that read's bytes until `end()`, which uncorks fully:
   * the last frames and the end of the response leave in one write and wake the client once, instead of
   * a write now and another after the turn is journaled. The socket is corked, not the response: Node's
   * `ServerResponse.cork()` holds chunks in the response, and `end()` then sends the terminating chunk
   * before them (a corked `write` or `end(chunk)` never reached the client: test/resilience/mid-stream.test.ts).
   */
  holdTail(): void {
    if (this.deferral || !this.started || this.reply.raw.destroyed) return;
    this.reply.raw.socket?.cork();
  }

  end(chunk?: string | Uint8Array): void {
    if (this.deferral) {
      if (chunk !== undefined) this.deferral.chunks.push(Buffer.from(chunk));
      return;
    }
    this.finished = true;
    if (this.copy && chunk !== undefined) this.keepCopy(chunk);
    if (this.held) {
      // Writes of this tick not yet sent (a translated answer's last events) leave with the end.
      this.holdTail();
      this.pendingEnd = { chunk };
      // Never a hung response: the turn is normally recorded in this same tick (microtasks) and
      // released after its journal write at the end of this loop turn; a path that records
      // nothing (or later) still ends one loop turn after that.
      setImmediate(() => setImmediate(() => this.releaseEnd()));
      return;
    }
    this.endNow(chunk);
  }

  private endNow(chunk: string | Uint8Array | undefined): void {
    if (this.reply.raw.destroyed) return;
    if (chunk === undefined) this.reply.raw.end();
    else this.reply.raw.end(chunk);
  }

  private held = false;
  private pendingEnd: { chunk: string | Uint8Array | undefined } | undefined;

  /** Keeps `end()` from ending the response until `releaseEnd()` (the turn is recorded first). */
  holdEnd(): void {
    this.held = true;
  }

  /** Ends the response if `end()` was called while held. Safe to call more than once. */
  releaseEnd(): void {
    this.held = false;
    const pending = this.pendingEnd;
    this.pendingEnd = undefined;
    if (pending) this.endNow(pending.chunk);
  }
}
