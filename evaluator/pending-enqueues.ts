/**
 * Enqueues in flight (each a queue add the gateway does not wait for). While Redis is away
 * BullMQ's adds wait for the reconnect; the count lets handleTurn bound what the gateway holds.
 */
export class PendingEnqueues {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly onFailure: (error: unknown, context: string) => void;

  constructor(onFailure: (error: unknown, context: string) => void) {
    this.onFailure = onFailure;
  }

  get size(): number {
    return this.pending.size;
  }

  track(promise: Promise<unknown>, context: string): void {
    const tracked = promise.catch((error: unknown) => this.onFailure(error, context));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Resolves when every enqueue tracked so far (and any tracked meanwhile) has settled. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Like flush, but gives up after `graceMillis` (enqueues still waiting for an unreachable Redis). */
  async flushWithin(graceMillis: number): Promise<void> {
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMillis).unref());
    await Promise.race([grace, this.flush()]);
  }
}
