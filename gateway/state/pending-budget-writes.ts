import type { BudgetScope } from './budget-periods.ts';
import { scopeExpiresAt } from './known-budget-scopes.ts';

/** Spend and stage flags of one scope waiting to be added to Redis. */
export interface PendingScope {
  amount: number;
  flags: number;
  expiresAt: number;
}

/** What `take()` hands the replay: the caller sends it and gives back what it could not send. */
export interface PendingBatch {
  releases: Set<string>;
  scopes: Map<string, PendingScope>;
}

/**
 * What this replica owes Redis after an outage: spend settled and stages crossed while Redis was
 * away, and reservations to release. Nothing here is dropped; a failed replay puts it back.
 */
export class PendingBudgetWrites {
  private releases = new Set<string>();
  private scopes = new Map<string, PendingScope>();
  /**
   * Batches a replay is sending: still owed until Redis acknowledges each entry (the replay deletes it from its
   * batch then) or the batch comes back. Counted, so "nothing pending" means written, not merely being written.
   */
  private readonly inFlight = new Set<PendingBatch>();

  get scopeCount(): number {
    let count = this.scopes.size;
    const counted = new Set<string>();
    for (const batch of this.inFlight) {
      for (const id of batch.scopes.keys()) {
        if (this.scopes.has(id) || counted.has(id)) continue;
        counted.add(id);
        count += 1;
      }
    }
    return count;
  }

  get releaseCount(): number {
    let count = this.releases.size;
    for (const batch of this.inFlight) for (const key of batch.releases) if (!this.releases.has(key)) count += 1;
    return count;
  }

  /** Spend of the scope not yet acknowledged by Redis: waiting, or in a replay's batch. */
  amountOf(scopeId: string): number {
    let amount = this.scopes.get(scopeId)?.amount ?? 0;
    for (const batch of this.inFlight) amount += batch.scopes.get(scopeId)?.amount ?? 0;
    return amount;
  }

  add(scope: BudgetScope, amount: number, flags: number): void {
    const entry = this.scopes.get(scope.id);
    if (entry === undefined) this.scopes.set(scope.id, { amount, flags, expiresAt: scopeExpiresAt(scope) });
    else {
      entry.amount += amount;
      entry.flags |= flags;
    }
  }

  addRelease(reservationKey: string): void {
    this.releases.add(reservationKey);
  }

  /**
   * Hands over everything pending (undefined when nothing is); new writes collect afresh meanwhile. The caller
   * deletes each entry from the batch once Redis has acknowledged it, then gives the batch back (`putBack`).
   */
  take(): PendingBatch | undefined {
    if (this.releases.size === 0 && this.scopes.size === 0) return undefined;
    const batch = { releases: this.releases, scopes: this.scopes };
    this.releases = new Set();
    this.scopes = new Map();
    this.inFlight.add(batch);
    return batch;
  }

  /** Whatever a replay did not send goes back, merged with what arrived meanwhile. */
  putBack(batch: PendingBatch): void {
    this.inFlight.delete(batch);
    for (const key of batch.releases) this.releases.add(key);
    for (const [id, entry] of batch.scopes) {
      const current = this.scopes.get(id);
      if (current === undefined) this.scopes.set(id, entry);
      else {
        current.amount += entry.amount;
        current.flags |= entry.flags;
      }
    }
  }
}
