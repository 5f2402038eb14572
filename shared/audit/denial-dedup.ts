import type { Redis } from 'ioredis';
import type { AuditEvent, AuditSink } from './audit-event.ts';

/** What makes two denials "the same": one client turn retried with the same error. */
export interface DenialKey {
  sessionId: string;
  turnId: string;
  code: string;
}

export interface DenialDedupOptions {
  /** How long a (session, turn, code) stays recorded. @defaultValue 600000 (10 min) */
  ttlMillis?: number;
  /** Distributed mode: `SET NX PX` in Redis so replicas agree. Embedded: an in-memory map. */
  redis?: Redis | undefined;
  /** @defaultValue "gatehouse:" */
  keyPrefix?: string;
  /** In-memory entries kept at most (oldest evicted). @defaultValue 100000 */
  maxEntries?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

/**
 * Records `request.denied` once per turn: Codex CLI retries a failed turn several times, and
 * each retry would otherwise add an identical audit row. Without a session and turn id there is
 * nothing to group by, so such denials are always recorded.
 */
export class DenialDedup {
  private readonly options: DenialDedupOptions;
  private readonly seen = new Map<string, number>();

  constructor(options: DenialDedupOptions = {}) {
    this.options = options;
  }

  private get ttlMillis(): number {
    return this.options.ttlMillis ?? 600_000;
  }

  /** True the first time the key is seen within the TTL (embedded: synchronous). */
  firstTime(key: DenialKey): boolean | Promise<boolean> {
    if (!key.sessionId || !key.turnId) return true;
    const id = `${key.sessionId}\u0000${key.turnId}\u0000${key.code}`;
    if (this.options.redis) {
      const redisKey = `${this.options.keyPrefix ?? 'gatehouse:'}denied:${id.replaceAll('\u0000', ':')}`;
      return this.options.redis
        .set(redisKey, '1', 'PX', this.ttlMillis, 'NX')
        .then((reply) => reply === 'OK')
        .catch((error: unknown) => {
          this.options.onError?.(error);
          return true; // better a duplicate row than a lost denial
        });
    }
    const now = this.options.now?.() ?? Date.now();
    const expires = this.seen.get(id);
    if (expires !== undefined && expires > now) return false;
    this.seen.delete(id);
    this.seen.set(id, now + this.ttlMillis);
    if (this.seen.size > (this.options.maxEntries ?? 100_000)) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }

  /** Records the event on `sink` unless this (session, turn, code) was already recorded. Never throws. */
  recordDenied(sink: AuditSink, event: AuditEvent, key: DenialKey): void {
    const first = this.firstTime(key);
    if (first === true) sink.record(event);
    else if (first !== false) void first.then((isFirst) => isFirst && sink.record(event));
  }
}
