import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { HashChainAuditLog } from '../../shared/audit/hash-chain-audit-log.ts';
import { verifyAuditChain } from '../../shared/audit/verify-audit-chain.ts';
import { PolicyStore } from '../../shared/policy-store/policy-store.ts';
import { GovernanceService } from '../../shared/governance/governance-service.ts';
import type { ActivePolicy } from '../../shared/policy/active-policy.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { basePolicy, newApprover, newWriter, openChdb, systemKeyIn, waitFor, type ChdbFixture } from './helpers/governance-fixture.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `gatehouse-test:${randomUUID()}:`;
const root = newApprover('root', ['*']);
const alice = newApprover('alice', ['platform']);

let fixture: ChdbFixture;
const redisA = new Redis(redisUrl, { lazyConnect: true });
const redisB = new Redis(redisUrl, { lazyConnect: true });
const writers: BatchWriter[] = [];
let storeA: PolicyStore;
let storeB: PolicyStore;
let governanceA: GovernanceService;
let governanceB: GovernanceService;

beforeAll(async () => {
  fixture = await openChdb('distributed');
  await Promise.all([redisA.connect(), redisB.connect()]);
  const systemKey = systemKeyIn(fixture.dataDir); // distributed gateways share system_key_file
  const open = async (redis: Redis, label: string) => {
    const { writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, `spool-${label}`));
    writers.push(writer);
    const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer, redis, redisKeyPrefix: prefix });
    // The safety-net poll is off (60 s) so only the Redis notice can deliver the change in time.
    const store = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey, audit, bootstrapDocument: basePolicy([root, alice]), redis, redisKeyPrefix: prefix, pollIntervalMillis: 60_000 });
    return { store, governance: new GovernanceService({ client: fixture.client, database: fixture.database, store, audit }) };
  };
  ({ store: storeA, governance: governanceA } = await open(redisA, 'a'));
  ({ store: storeB, governance: governanceB } = await open(redisB, 'b'));
});

afterAll(async () => {
  await storeA?.close();
  await storeB?.close();
  for (const writer of writers) await writer.shutdown();
  const keys = await redisA.keys(`${prefix}*`);
  if (keys.length > 0) await redisA.del(...keys);
  await Promise.all([redisA.quit(), redisB.quit()]);
  await fixture?.cleanup();
});

describe('distributed hot-load', () => {
  it('both gateways start on the same bootstrap version', () => {
    expect(storeA.current().version).toBe(1);
    expect(storeB.current()).toMatchObject({ version: 1, hash: storeA.current().hash });
  });

  it('an approval on gateway A is served by gateway B within 2 s via the Redis notice', async () => {
    const seen: ActivePolicy[] = [];
    const unsubscribe = storeB.onChange((policy) => seen.push(policy));
    const proposal = await governanceA.createProposal({ patch: { cost_centers: { platform: { allowed_models: ['gpt-5.1', 'gpt-5.1-mini'] } } }, justification: 'cheaper model', author: 'dana' });
    const started = Date.now();
    const { version } = await governanceA.approveProposal(proposal.id, { approver: 'alice', signature: alice.sign(proposal.digest) });
    expect(version).toBe(2);
    const elapsed = await waitFor(() => storeB.current().version === 2, 2000, 10);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(elapsed).toBeLessThan(2000);
    expect(storeB.current().document.cost_centers.platform?.allowed_models).toEqual(['gpt-5.1', 'gpt-5.1-mini']);
    expect(seen.map((policy) => policy.version)).toEqual([2]);
    unsubscribe();
  });

  it('the other direction, and a system rollback, propagate the same way', async () => {
    const proposal = await governanceB.createProposal({ patch: { cost_centers: { research: { retry_cap: 6 } } }, justification: 'more retries', author: 'erin' });
    await governanceB.approveProposal(proposal.id, { approver: 'root', signature: root.sign(proposal.digest) });
    await waitFor(() => storeA.current().version === 3, 2000, 10);
    const result = await governanceA.rollbackToParent({ reason: 'regression', numbers: { delta: -0.03 } });
    expect(result).toEqual({ version: 4, from_version: 3, restored_version: 2 });
    await waitFor(() => storeB.current().version === 4, 2000, 10);
    expect(storeB.current().document.cost_centers.research?.retry_cap).toBe(3);
  });

  it('a proposal made against an older version is refused on the other gateway as stale', async () => {
    const stale = await governanceA.createProposal({ patch: { dry_run: true }, justification: 'x', author: 'dana' });
    const fresh = await governanceB.createProposal({ patch: { cost_centers: { platform: { retry_cap: 4 } } }, justification: 'y', author: 'erin' });
    await governanceB.approveProposal(fresh.id, { approver: 'root', signature: root.sign(fresh.digest) });
    await waitFor(() => storeA.current().version === 5, 2000, 10);
    await expect(governanceA.approveProposal(stale.id, { approver: 'root', signature: root.sign(stale.digest) })).rejects.toThrow(/propose it again/);
  });

  it('refuses a newest version whose status was edited to "rolled_back" (downgrade to an older signed version)', async () => {
    expect(storeA.current().version).toBe(5);
    await fixture.client.command({ query: `ALTER TABLE gatehouse.policy_versions UPDATE status = 'rolled_back' WHERE version = 5`, clickhouse_settings: { mutations_sync: '2' } });
    await storeA.reload();
    expect(storeA.current().version).toBe(5);
    expect(storeA.readiness().refusal).toMatch(/version 5: is marked "rolled_back" but no later version replaces it/);
    await fixture.client.command({ query: `ALTER TABLE gatehouse.policy_versions UPDATE status = 'active' WHERE version = 5`, clickhouse_settings: { mutations_sync: '2' } });
    await storeA.reload();
    expect(storeA.readiness().refusal).toBeUndefined();
  });

  it('audit events from both gateways form one verifiable chain', async () => {
    await Promise.all(writers.map((writer) => writer.flush()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all(writers.map((writer) => writer.flush()));
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification.ok).toBe(true);
    expect(verification.rows).toBeGreaterThanOrEqual(12);
  });
});
