import { affinityKeyFor, type AffinityStore } from './affinity-store.ts';

interface AffinityEntry {
  servedModel: string;
  expiresAt: number;
}

export interface MemoryAffinityStoreOptions {
  /** Entries kept before the oldest are dropped. @defaultValue 100000 */
  maxEntries?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** In-process affinity (embedded mode, and the local mirror of the Redis store). */
export class MemoryAffinityStore implements AffinityStore {
  private readonly entries = new Map<string, AffinityEntry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryAffinityStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  get(sessionId: string, requestedModel: string): string | undefined {
    return this.getByKey(affinityKeyFor(sessionId, requestedModel));
  }

  /** Lookup by {@link affinityKeyFor} key (what the memory ledger calls inside `reserve`). */
  getByKey(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.servedModel;
  }

  set(sessionId: string, requestedModel: string, servedModel: string, ttlSeconds: number): void {
    this.setByKey(affinityKeyFor(sessionId, requestedModel), servedModel, ttlSeconds);
  }

  setByKey(key: string, servedModel: string, ttlSeconds: number): void {
    this.entries.delete(key); // re-insert so Map order stays oldest-first
    if (!(ttlSeconds > 0)) return;
    this.entries.set(key, { servedModel, expiresAt: this.now() + ttlSeconds * 1000 });
    if (this.entries.size > this.maxEntries) this.evict();
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
