/**
 * Remembers (session, turn, code) for a while so a client that retries a denied turn produces one
 * `request.denied` audit event, not one per retry. Bounded: oldest entries go first.
 */
export class DenialLedger {
  private readonly seen = new Map<string, number>();
  private readonly ttlMillis: number;
  private readonly maxEntries: number;

  constructor(ttlMillis: number, maxEntries = 100_000) {
    this.ttlMillis = ttlMillis;
    this.maxEntries = maxEntries;
  }

  /** True the first time a key is seen within the TTL. */
  firstTime(key: string, now = Date.now()): boolean {
    const seenAt = this.seen.get(key);
    if (seenAt !== undefined && now - seenAt < this.ttlMillis) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}
