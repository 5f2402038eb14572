import type { BudgetScope } from './budget-periods.ts';

/** Keys outlive their period by a day, so a settle that arrives just after the reset still finds its scope. */
export const PERIOD_GRACE_MILLIS = 86_400_000;

/** When a scope's Redis key (and what this replica remembers of it) may be forgotten. */
export function scopeExpiresAt(scope: BudgetScope): number {
  return scope.resetsAt.getTime() + PERIOD_GRACE_MILLIS;
}

/** What Redis last said about one scope. */
export interface KnownScope {
  spend: number;
  reserved: number;
  flags: number;
  expiresAt: number;
}

/**
 * The last spend, reservations and reported stage flags this replica saw in Redis, per scope
 * (micro-USD). Local counters start from them when Redis goes away, and they are restored into a
 * Redis that lost its data.
 */
export class KnownBudgetScopes {
  private readonly scopes = new Map<string, KnownScope>();
  private nextPruneAt = 0;

  get(scopeId: string): KnownScope | undefined {
    return this.scopes.get(scopeId);
  }

  remember(scope: BudgetScope, spend: number, reserved: number, newFlags: number, now: number): void {
    const known = this.scopes.get(scope.id);
    if (known === undefined) {
      this.scopes.set(scope.id, { spend, reserved, flags: newFlags, expiresAt: scopeExpiresAt(scope) });
      if (now >= this.nextPruneAt) this.prune(now);
    } else {
      known.spend = spend;
      known.reserved = reserved;
      known.flags |= newFlags;
    }
  }

  /** Spend (and flags) this replica added to Redis itself; unknown scopes stay unknown. */
  addSettled(scopeId: string, amount: number, flags = 0): void {
    const known = this.scopes.get(scopeId);
    if (known === undefined) return;
    known.spend += amount;
    known.flags |= flags;
  }

  /** Scopes of the current period with something worth restoring. */
  restorable(now: number): [string, KnownScope][] {
    return [...this.scopes].filter(([, known]) => known.expiresAt > now && (known.spend > 0 || known.flags !== 0));
  }

  private prune(now: number): void {
    this.nextPruneAt = now + 60_000;
    for (const [id, known] of this.scopes) if (known.expiresAt < now) this.scopes.delete(id);
  }
}
