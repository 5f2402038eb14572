import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Lua scripts of the Redis budget ledger. Each runs atomically in Redis, so a reserve is one
 * check-and-add over every scope of a request, whatever the number of gateway replicas.
 *
 * Layout (all under the configured key prefix):
 *   budget:<scopeId>          hash  s = settled spend, r = outstanding reservations (micro-USD),
 *                                   f = flags already reported (1 alert, 2 downgrade, 4 pause),
 *                                   rs = spend restored after a Redis data loss
 *   budget-rq:<requestId>     hash  <scope key> → reserved micro-USD (what `settle` releases)
 *   budget-rq-expiry          zset  reservation key → expiry (ms): reservations of a replica that
 *                                   died are released by the next reserve on any replica
 *   affinity:<affinityKey>    string, read inside reserve (same round trip)
 *
 * Keys not passed in KEYS (reservation members) make this single-instance Redis only (or a
 * cluster with every key in one hash slot via a `{…}` prefix).
 */

/**
 * KEYS: expiry zset, reservation key, affinity key, scope keys…
 * ARGV: now, estimate, reservation expiry, want affinity (1/0), downgrade estimate, then per scope: alertAt, downgradeAt, pauseAt, key expiry.
 * The downgrade estimate (the cheaper model's worst case) replaces the estimate when any scope is
 * past its downgrade line: the stage and the price it implies are decided in this one step.
 * Returns: admitted (1/0), deny index (1-based, 0 = none), affinity or nil, then per scope: new flags, s, r.
 */
export const RESERVE_LUA = `
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 32)
for _, rk in ipairs(expired) do
  local fields = redis.call('HGETALL', rk)
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', fields[i]) == 1 then redis.call('HINCRBY', fields[i], 'r', -tonumber(fields[i + 1])) end
  end
  redis.call('DEL', rk)
  redis.call('ZREM', KEYS[1], rk)
end
-- A second reserve under the same request id replaces the first (never counts it twice).
local prior = redis.call('HGETALL', KEYS[2])
for i = 1, #prior, 2 do
  if redis.call('EXISTS', prior[i]) == 1 then redis.call('HINCRBY', prior[i], 'r', -tonumber(prior[i + 1])) end
end
if #prior > 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], KEYS[2])
end
local affinity = false
if ARGV[4] == '1' then affinity = redis.call('GET', KEYS[3]) end
local estimate = tonumber(ARGV[2])
local n = #KEYS - 3
local values = {}
local downgraded = false
for i = 1, n do
  local v = redis.call('HMGET', KEYS[3 + i], 's', 'r', 'f')
  values[i] = v
  if (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0) >= tonumber(ARGV[5 + (i - 1) * 4 + 2]) then downgraded = true end
end
if downgraded then estimate = tonumber(ARGV[5]) end
local out = {0, 0, affinity}
local denyIndex = 0
local denyOver = 0
local flags = {}
for i = 1, n do
  local key = KEYS[3 + i]
  local base = 5 + (i - 1) * 4
  local v = values[i]
  local s = tonumber(v[1]) or 0
  local r = tonumber(v[2]) or 0
  local f = tonumber(v[3]) or 0
  local used = s + r
  local pauseAt = tonumber(ARGV[base + 3])
  local over
  if used >= pauseAt then over = math.huge else over = used + estimate - pauseAt end
  if over > 0 and (denyIndex == 0 or over > denyOver) then
    denyIndex = i
    denyOver = over
  end
  local new = 0
  if used >= tonumber(ARGV[base + 1]) and bit.band(f, 1) == 0 then new = new + 1 end
  if used >= tonumber(ARGV[base + 2]) and bit.band(f, 2) == 0 then new = new + 2 end
  flags[i] = f
  out[4 + (i - 1) * 3] = new
  out[5 + (i - 1) * 3] = s
  out[6 + (i - 1) * 3] = r
end
local latest = 0
if denyIndex > 0 then
  local slot = 4 + (denyIndex - 1) * 3
  if bit.band(flags[denyIndex], 4) == 0 then out[slot] = out[slot] + 4 end
end
for i = 1, n do
  local new = out[4 + (i - 1) * 3]
  local key = KEYS[3 + i]
  if new ~= 0 then redis.call('HSET', key, 'f', bit.bor(flags[i], new)) end
  if denyIndex == 0 and estimate > 0 then
    redis.call('HINCRBY', key, 'r', estimate)
    redis.call('HSET', KEYS[2], key, estimate)
  end
  local keyExpiry = tonumber(ARGV[5 + (i - 1) * 4 + 4])
  if keyExpiry > latest then latest = keyExpiry end
  if new ~= 0 or (denyIndex == 0 and estimate > 0) then redis.call('PEXPIREAT', key, keyExpiry) end
end
if denyIndex == 0 then
  out[1] = 1
  if estimate > 0 and n > 0 then
    -- The reservation outlives every scope key it touches, so a late purge always finds it.
    redis.call('PEXPIREAT', KEYS[2], math.max(latest, tonumber(ARGV[3]) + 60000))
    redis.call('ZADD', KEYS[1], ARGV[3], KEYS[2])
  end
end
out[2] = denyIndex
return out
`;

/**
 * KEYS: expiry zset, reservation key (may not exist), scope keys…
 * ARGV per scope: spend to add, flags to set, key expiry.
 * Releases the reservation (if still there) and adds spend; returns the number of scopes released.
 */
export const SETTLE_LUA = `
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', fields[i]) == 1 then redis.call('HINCRBY', fields[i], 'r', -tonumber(fields[i + 1])) end
end
if #fields > 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], KEYS[2])
end
for i = 3, #KEYS do
  local base = (i - 3) * 3
  local amount = tonumber(ARGV[base + 1])
  local set = tonumber(ARGV[base + 2])
  if amount ~= 0 then redis.call('HINCRBY', KEYS[i], 's', amount) end
  if set ~= 0 then
    local f = tonumber(redis.call('HGET', KEYS[i], 'f')) or 0
    redis.call('HSET', KEYS[i], 'f', bit.bor(f, set))
  end
  if amount ~= 0 or set ~= 0 then redis.call('PEXPIREAT', KEYS[i], ARGV[base + 3]) end
end
return #fields / 2
`;

/**
 * After Redis lost its data: raise each scope's restored base `rs` to this replica's last-known
 * spend, adding only the difference, so several replicas restoring the same scope count the
 * largest last-known value once and spend recorded since the restart is kept on top.
 * KEYS: scope keys. ARGV per scope: last-known spend, flags, key expiry.
 */
export const RESTORE_LUA = `
for i = 1, #KEYS do
  local base = (i - 1) * 3
  local seed = tonumber(ARGV[base + 1])
  local rs = tonumber(redis.call('HGET', KEYS[i], 'rs')) or 0
  if seed > rs then
    redis.call('HINCRBY', KEYS[i], 's', seed - rs)
    redis.call('HSET', KEYS[i], 'rs', seed)
  end
  local set = tonumber(ARGV[base + 2])
  if set ~= 0 then
    local f = tonumber(redis.call('HGET', KEYS[i], 'f')) or 0
    redis.call('HSET', KEYS[i], 'f', bit.bor(f, set))
  end
  redis.call('PEXPIREAT', KEYS[i], ARGV[base + 3])
end
return #KEYS
`;

/** KEYS: epoch key. ARGV: candidate epoch. Returns the epoch in force (sets it when absent). */
export const EPOCH_LUA = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;

/** A script run by EVALSHA, falling back to EVAL once after a Redis restart flushed the cache (NOSCRIPT). */
export class LuaScript {
  readonly source: string;
  readonly sha: string;
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
