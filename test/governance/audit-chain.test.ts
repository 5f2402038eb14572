import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { HashChainAuditLog, auditRowHash, readSpooledHead, type AuditRow } from '../../shared/audit/hash-chain-audit-log.ts';
import { verifyAuditChain } from '../../shared/audit/verify-audit-chain.ts';
import { DenialDedup } from '../../shared/audit/denial-dedup.ts';
import type { AuditEvent, AuditSink } from '../../shared/audit/audit-event.ts';
import { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { DiskSpool } from '../../shared/storage/disk-spool.ts';
import { newWriter, openChdb, queryRows, type ChdbFixture } from './helpers/governance-fixture.ts';

let fixture: ChdbFixture;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 2 });
const prefix = `gatehouse-test:${randomUUID()}:`;

function event(index: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return { actor: `dev-${index}`, action: 'request.denied', subject: `req_${index}`, cost_center: 'platform', details: { code: 'model_not_allowed', index }, policy_version: 1, ...extra };
}

async function seqs(): Promise<number[]> {
  const rows = await queryRows<{ seq: number | string }>(fixture.client, 'SELECT seq FROM gatehouse.audit_log ORDER BY seq');
  return rows.map((row) => Number(row.seq));
}

/** A client whose inserts fail while `down` is set: ClickHouse unreachable, reads still work for the test. */
function flakyClient(client: ClickHouseClient, state: { down: boolean }): ClickHouseClient {
  const outage = () => Promise.reject(new Error('ECONNREFUSED (simulated ClickHouse outage)'));
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'insert') {
        return (...args: Parameters<ClickHouseClient['insert']>) => (state.down ? outage() : target.insert(...args));
      }
      // The batch writer sends its already-encoded rows as an `INSERT … FORMAT` exec.
      if (property === 'exec') {
        return (params: Parameters<ClickHouseClient['exec']>[0]) => (state.down && /^\s*INSERT\b/i.test(params.query) ? outage() : target.exec(params));
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

beforeAll(async () => {
  fixture = await openChdb('audit-chain');
  await redis.connect();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await fixture?.cleanup();
});

describe('hash-chained audit log', () => {
  it('writes a chain that verifies, with strictly increasing seq and linked hashes', async () => {
    const { writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool-1'));
    const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
    for (let i = 1; i <= 20; i += 1) audit.record(event(i));
    await audit.flush();
    await writer.shutdown();
    expect(await seqs()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const rows = await queryRows<{ seq: number; prev_hash: string; hash: string }>(fixture.client, 'SELECT seq, prev_hash, hash FROM gatehouse.audit_log ORDER BY seq');
    expect(rows[0]!.prev_hash).toBe('');
    for (let i = 1; i < rows.length; i += 1) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification).toMatchObject({ ok: true, rows: 20, firstSeq: 1, lastSeq: 20, headHash: rows[19]!.hash, firstBroken: null });
  });

  it('continues the chain after a restart (a new instance recovers the head from ClickHouse)', async () => {
    const { writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool-2'));
    const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
    expect(audit.head().seq).toBe(20);
    for (let i = 21; i <= 25; i += 1) audit.record(event(i));
    await audit.flush();
    await writer.shutdown();
    expect(await seqs()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await verifyAuditChain({ client: fixture.client, database: fixture.database })).ok).toBe(true);
  });

  it('keeps events written during a ClickHouse outage, across a restart, and lands them in order', async () => {
    const state = { down: true };
    const client = flakyClient(fixture.client, state);
    const spoolDirectory = join(fixture.dataDir, 'spool-3');
    const first = new BatchWriter({ client, database: fixture.database, spool: new DiskSpool(spoolDirectory, 1 << 24), flushIntervalMillis: 60_000, replayIntervalMillis: 60_000 });
    const audit = await HashChainAuditLog.open({ client, database: fixture.database, writer: first, spoolDirectory });
    for (let i = 26; i <= 30; i += 1) audit.record(event(i));
    await audit.flush();
    await first.flush();
    expect(first.spoolStats().files).toBeGreaterThan(0);
    expect(await seqs()).toHaveLength(25); // nothing reached ClickHouse
    await first.shutdown();

    // The process restarts while ClickHouse still refuses writes: the head comes from the spool.
    expect(readSpooledHead(spoolDirectory)?.seq).toBe(30);
    const second = new BatchWriter({ client, database: fixture.database, spool: new DiskSpool(spoolDirectory, 1 << 24), flushIntervalMillis: 60_000, replayIntervalMillis: 60_000 });
    const restarted = await HashChainAuditLog.open({ client, database: fixture.database, writer: second, spoolDirectory });
    expect(restarted.head().seq).toBe(30);
    for (let i = 31; i <= 33; i += 1) restarted.record(event(i));
    await restarted.flush();
    expect(await seqs()).toHaveLength(25);

    state.down = false; // ClickHouse is back
    await second.flush();
    await second.replaySpool();
    await second.shutdown();
    expect(second.spoolStats().files).toBe(0);
    expect(await seqs()).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    expect((await verifyAuditChain({ client: fixture.client, database: fixture.database })).ok).toBe(true);
  });

  it('shares one chain between processes through Redis', async () => {
    const writers = [0, 1].map((i) => newWriter(fixture.client, fixture.database, join(fixture.dataDir, `spool-redis-${i}`)).writer);
    const logs = await Promise.all(writers.map((writer) => HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer, redis, redisKeyPrefix: prefix })));
    // Both start from the stored head (33); interleave appends from both "gateways".
    for (let i = 0; i < 30; i += 1) logs[i % 2]!.record(event(100 + i, { actor: `gateway-${i % 2}` }));
    await Promise.all(logs.map((log) => log.flush()));
    await Promise.all(writers.map((writer) => writer.shutdown()));
    expect(await seqs()).toEqual(Array.from({ length: 63 }, (_, i) => i + 1));
    expect(await redis.hget(`${prefix}audit:head`, 'seq')).toBe('63');
    expect((await verifyAuditChain({ client: fixture.client, database: fixture.database })).ok).toBe(true);
  });

  it('keeps events whose details JSON cannot carry as is (NaN, bigint)', async () => {
    const { writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool-odd'));
    const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer, redis, redisKeyPrefix: prefix });
    audit.record({ actor: 'optimizer', action: 'policy.rolled_back', subject: 'policy:3', details: { delta: Number.NaN, samples: 12n } });
    await audit.flush();
    await writer.shutdown();
    const [row] = await queryRows<{ seq: number; details: string }>(fixture.client, `SELECT seq, details FROM gatehouse.audit_log WHERE action = 'policy.rolled_back'`);
    expect(Number(row!.seq)).toBe(64);
    expect(JSON.parse(row!.details)).toEqual({ delta: null, samples: '12' });
  });

  it('names the first edited row', async () => {
    await fixture.client.command({
      query: `ALTER TABLE gatehouse.audit_log UPDATE actor = 'someone-else' WHERE seq = 42`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification.ok).toBe(false);
    expect(verification.firstBroken).toMatchObject({ seq: 42, reason: 'hash_mismatch', action: 'request.denied' });
    expect(verification.rows).toBe(42);
  });

  it('names a row re-hashed to hide an edit by its broken link', async () => {
    // Recompute row 42's hash so it is self-consistent again: row 43 no longer links to it.
    const [row] = await queryRows<Omit<AuditRow, 'hash'>>(fixture.client, `SELECT toString(ts) AS ts, seq, actor, action, subject, cost_center, details, policy_version, prev_hash FROM gatehouse.audit_log WHERE seq = 42`);
    const rehashed = auditRowHash({ ...row!, seq: 42, policy_version: Number(row!.policy_version) });
    await fixture.client.command({ query: `ALTER TABLE gatehouse.audit_log UPDATE hash = '${rehashed}' WHERE seq = 42`, clickhouse_settings: { mutations_sync: '2' } });
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification.firstBroken).toMatchObject({ seq: 43, reason: 'prev_hash_mismatch', expected: rehashed });
  });
});

describe('request.denied dedup', () => {
  class CountingSink implements AuditSink {
    events: AuditEvent[] = [];
    record(e: AuditEvent): void {
      this.events.push(e);
    }
    async flush(): Promise<void> {}
  }

  it('records a denial once per (session, turn, code) within the TTL, in memory', () => {
    let now = 1_000;
    const dedup = new DenialDedup({ ttlMillis: 10_000, now: () => now });
    const sink = new CountingSink();
    const key = { sessionId: 's1', turnId: 't1', code: 'model_not_allowed' };
    for (let i = 0; i < 5; i += 1) dedup.recordDenied(sink, event(i), key); // Codex retries the turn
    dedup.recordDenied(sink, event(6), { ...key, turnId: 't2' });
    dedup.recordDenied(sink, event(7), { ...key, code: 'budget_exhausted' });
    dedup.recordDenied(sink, event(8), { sessionId: '', turnId: '', code: 'model_not_allowed' });
    dedup.recordDenied(sink, event(9), { sessionId: '', turnId: '', code: 'model_not_allowed' });
    expect(sink.events).toHaveLength(5);
    now += 10_001;
    dedup.recordDenied(sink, event(10), key);
    expect(sink.events).toHaveLength(6);
  });

  it('dedups across gateways through Redis', async () => {
    const sink = new CountingSink();
    const a = new DenialDedup({ redis, keyPrefix: prefix, ttlMillis: 5_000 });
    const b = new DenialDedup({ redis, keyPrefix: prefix, ttlMillis: 5_000 });
    const key = { sessionId: randomUUID(), turnId: 't1', code: 'model_not_allowed' };
    expect(await a.firstTime(key)).toBe(true);
    expect(await b.firstTime(key)).toBe(false);
    expect(await a.firstTime({ ...key, turnId: 't2' })).toBe(true);
    b.recordDenied(sink, event(1), { ...key, turnId: 't3' });
    a.recordDenied(sink, event(2), { ...key, turnId: 't3' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.events).toHaveLength(1);
  });
});
