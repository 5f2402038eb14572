import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { startGovernance, type RunningGovernance } from '../../shared/governance/start-governance.ts';
import { loadOrCreateSystemKey, SystemKeyLocationError, systemKeyPath } from '../../shared/signing/system-key.ts';
import { approvalDigest } from '../../shared/governance/approval-digest.ts';
import { canonicalJson } from '../../shared/signing/canonical-json.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';
import { toClickHouseTime } from '../../shared/clickhouse/clickhouse-time.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { basePolicy, newApprover, newWriter, openChdb, queryRows, type ChdbFixture } from './helpers/governance-fixture.ts';

// The stolen-system-key scenario of issue #14: whoever can INSERT into policy_versions and holds
// the system private key signs a document of their own. None of it may ever be served.
const root = newApprover('root', ['*']);
let fixture: ChdbFixture;
let policyFile = '';
let running: { governance: RunningGovernance; writer: BatchWriter } | undefined;

beforeAll(async () => {
  fixture = await openChdb('trust-root');
  policyFile = join(fixture.dataDir, 'policy.yaml');
  writeFileSync(policyFile, stringifyYaml({ ...basePolicy([root]), rules: [{ id: 'cheap', route_to: 'gpt-5.1-mini', cost_centers: ['research'] }] }));
});

afterAll(async () => {
  await stop();
  await fixture?.cleanup();
});

async function start(label: string): Promise<RunningGovernance> {
  const spoolDirectory = join(fixture.dataDir, `spool-${label}`);
  const { writer } = newWriter(fixture.client, fixture.database, spoolDirectory);
  const governance = await startGovernance({ client: fixture.client, database: fixture.database, dataDir: fixture.dataDir, writer, spoolDirectory, bootstrapPolicyFile: policyFile, pollIntervalMillis: 100 });
  running = { governance, writer };
  return governance;
}

async function stop(): Promise<void> {
  if (!running) return;
  await running.governance.close();
  await running.writer.shutdown();
  running = undefined;
}

async function approve(governance: RunningGovernance, patch: unknown, justification: string): Promise<number> {
  const proposal = await governance.service.createProposal({ patch, justification, author: 'ops', proposedBy: 'ops' });
  return (await governance.service.approveProposal(proposal.id, { approver: 'root', signature: root.sign(proposal.digest) })).version;
}

/** What the attacker does: a new version on top of the active one, signed with the (stolen) system key, INSERTed by hand. */
async function forge(governance: RunningGovernance, document: unknown, version: number): Promise<string> {
  const current = governance.store.current();
  const text = canonicalJson(document);
  const hash = sha256Hex(text);
  const proposalId = `forged_${version}`;
  const signature = governance.systemKey.sign(approvalDigest({ proposalId, baseHash: current.hash, documentHash: hash }));
  const at = toClickHouseTime(new Date(Date.now() + 1000));
  await fixture.client.insert({
    table: 'gatehouse.policy_versions',
    values: [{ version, hash, parent_hash: current.hash, document: text, signature, signed_by: 'system', approved_by: 'root', proposal_id: proposalId, justification: 'routine', status: 'active', created_at: at, updated_at: at }],
    format: 'JSONEachRow',
  });
  return hash;
}

async function refusals(governance: RunningGovernance): Promise<{ subject: string; details: string }[]> {
  await governance.audit.flush();
  return queryRows(fixture.client, `SELECT subject, details FROM gatehouse.audit_log WHERE action = 'policy.refused' ORDER BY seq`);
}

/** Resolves once the store has read the table (and refused what it refuses): two poll periods. */
async function pollsDone(governance: RunningGovernance): Promise<void> {
  await governance.store.reload();
}

describe('policy trust root', () => {
  it('refuses a system-signed version with a new document, audits it, keeps serving, also after a restart', async () => {
    let governance = await start('1');
    expect(await approve(governance, { cost_centers: { research: { allowed_models: ['gpt-5.1', 'gpt-5.1-mini'] } } }, 'research may use mini')).toBe(2);
    const served = governance.store.current();
    const widened = JSON.parse(canonicalJson(served.document));
    widened.cost_centers.platform.allowed_models = ['gpt-5.1', 'gpt-5.1-mini'];
    await forge(governance, widened, 3);
    await pollsDone(governance);
    expect(governance.store.current()).toMatchObject({ version: 2, hash: served.hash });
    expect(governance.store.readiness().refusal).toMatch(/policy version 3: signed by the system key but its document is not an earlier approved version/);
    const audited = await refusals(governance);
    expect(audited).toHaveLength(1);
    expect(audited[0]!.subject).toBe('policy:3');
    expect(JSON.parse(audited[0]!.details)).toMatchObject({ version: 3, signed_by: 'system', kept_version: 2 });
    expect((await governance.service.history())[0]).toMatchObject({ version: 3, status: 'refused' });

    await stop();
    governance = await start('2');
    expect(governance.store.current()).toMatchObject({ version: 2, hash: served.hash });
    expect(governance.store.current().document.cost_centers.platform!.allowed_models).toEqual(['gpt-5.1']);
    expect(governance.store.readiness().refusal).toMatch(/policy version 3/);
    expect((await refusals(governance)).map((row) => row.subject)).toEqual(['policy:3', 'policy:3']);
  });

  it('never serves a hand-inserted row that restores an approved document (not activated through a gateway)', async () => {
    const governance = running!.governance;
    await fixture.client.command({ query: `ALTER TABLE gatehouse.policy_versions DELETE WHERE version = 3`, clickhouse_settings: { mutations_sync: '2' } });
    const v1 = (await governance.store.versions()).find((row) => row.version === 1)!;
    await forge(governance, JSON.parse(v1.document), 3);
    await pollsDone(governance);
    expect(governance.store.current().version).toBe(2);
    expect(governance.store.readiness().refusal).toMatch(/policy version 3: was not activated through a gateway \(absent from the policy anchor .*policy-anchor\.json\)/);
    await fixture.client.command({ query: `ALTER TABLE gatehouse.policy_versions DELETE WHERE version = 3`, clickhouse_settings: { mutations_sync: '2' } });
    await pollsDone(governance);
  });

  it('the rollback guard still restores the parent, and still reverts one rule, signed by the system key', async () => {
    const governance = running!.governance;
    const rolledBack = await governance.service.rollbackToParent({ reason: 'task completion fell', numbers: { delta: -0.2 } });
    expect(rolledBack).toMatchObject({ from_version: 2, restored_version: 1 });
    expect(governance.store.current()).toMatchObject({ version: rolledBack.version, approvedBy: 'system' });
    expect(governance.store.current().hash).toBe((await governance.store.versions()).find((row) => row.version === 1)!.hash);
    const reverted = await governance.service.revertRule({ ruleId: 'cheap', reason: 'rule regressed' });
    expect(governance.store.current()).toMatchObject({ version: reverted.version });
    expect(governance.store.current().document.rules).toEqual([]);
    // And both survive a restart (they are anchored and verify).
    await stop();
    const again = await start('3');
    expect(again.store.current().version).toBe(reverted.version);
    expect(again.store.readiness().refusal).toBeUndefined();
  });
});

describe('system key location', () => {
  it('resolves a relative system_key_file against the config folder, and refuses one inside the engine directory', () => {
    const dataDir = join(fixture.dataDir, 'd');
    const configDir = join(fixture.dataDir, 'etc');
    mkdirSync(configDir, { recursive: true });
    expect(systemKeyPath({ dataDir })).toBe(join(dataDir, 'system-key.pem'));
    const key = loadOrCreateSystemKey({ dataDir, systemKeyFile: 'keys/system.pem', baseDir: configDir });
    expect(key.file).toBe(join(configDir, 'keys', 'system.pem'));
    expect(existsSync(join(dataDir, 'keys', 'system.pem'))).toBe(false);
    expect(() => systemKeyPath({ dataDir, systemKeyFile: join(dataDir, 'clickhouse', 'user_files', 'k.pem') })).toThrow(SystemKeyLocationError);
  });
});
