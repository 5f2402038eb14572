import type { Redis } from 'ioredis';
import { RESTORE_LUA, SETTLE_LUA, LuaScript } from './budget-lua.ts';
import type { KnownBudgetScopes } from './known-budget-scopes.ts';
import type { PendingBudgetWrites } from './pending-budget-writes.ts';
import type { BudgetKeys } from './reserve-script-call.ts';

/** Scopes per script call: keeps one EVALSHA's KEYS list (and its run time in Redis) bounded. */
const SCOPES_PER_CALL = 200;

export const settleScript = new LuaScript(SETTLE_LUA);
const restoreScript = new LuaScript(RESTORE_LUA);

/** Writes the last-known spend back into a Redis that lost its data (largest value wins, counted once). */
export async function restoreKnownSpend(redis: Redis, keys: BudgetKeys, known: KnownBudgetScopes, now: number): Promise<void> {
  const entries = known.restorable(now);
  for (let start = 0; start < entries.length; start += SCOPES_PER_CALL) {
    const chunk = entries.slice(start, start + SCOPES_PER_CALL);
    await restoreScript.run(
      redis,
      chunk.map(([id]) => keys.scopeKey(id)),
      chunk.flatMap(([, scope]) => [scope.spend, scope.flags, scope.expiresAt]),
    );
  }
}

/**
 * Sends what the replica owed Redis: reservations to release, then spend and flags per scope.
 * Throws on the first failed call; what was not sent stays pending.
 */
export async function replayPendingWrites(redis: Redis, keys: BudgetKeys, pending: PendingBudgetWrites, known: KnownBudgetScopes): Promise<void> {
  const batch = pending.take();
  if (batch === undefined) return;
  try {
    for (const reservationKey of batch.releases) {
      await settleScript.run(redis, [keys.expiryKey, reservationKey], []);
      batch.releases.delete(reservationKey);
    }
    const entries = [...batch.scopes];
    for (let start = 0; start < entries.length; start += SCOPES_PER_CALL) {
      const chunk = entries.slice(start, start + SCOPES_PER_CALL);
      await settleScript.run(
        redis,
        [keys.expiryKey, keys.reservationKey(''), ...chunk.map(([id]) => keys.scopeKey(id))],
        chunk.flatMap(([, entry]) => [entry.amount, entry.flags, entry.expiresAt]),
      );
      for (const [id, entry] of chunk) {
        batch.scopes.delete(id);
        known.addSettled(id, entry.amount, entry.flags);
      }
    }
  } finally {
    pending.putBack(batch);
  }
}
