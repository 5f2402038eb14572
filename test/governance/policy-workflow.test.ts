import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { HashChainAuditLog } from '../../shared/audit/hash-chain-audit-log.ts';
import { verifyAuditChain } from '../../shared/audit/verify-audit-chain.ts';
import { PolicyStore } from '../../shared/policy-store/policy-store.ts';
import { GovernanceService } from '../../shared/governance/governance-service.ts';
import { GatewayError } from '../../gateway/errors/gateway-error.ts';
import { approvalDigest } from '../../shared/governance/approval-digest.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import type { SystemKey } from '../../shared/signing/system-key.ts';
import { basePolicy, newApprover, newWriter, openChdb, queryRows, systemKeyIn, waitFor, type ChdbFixture } from './helpers/governance-fixture.ts';
import { bearer, buildGovernanceApp, TOKENS } from './helpers/governance-app.ts';

const alice = newApprover('alice', ['platform']);
const root = newApprover('root', ['*']);
const mallory = newApprover('mallory', ['*']); // not listed in the policy

let fixture: ChdbFixture;
let writer: BatchWriter;
let audit: HashChainAuditLog;
let systemKey: SystemKey;
let store: PolicyStore;
let governance: GovernanceService;
let app: FastifyInstance;

async function auditActions(): Promise<string[]> {
  await audit.flush();
  const rows = await queryRows<{ action: string }>(fixture.client, `SELECT action FROM gatehouse.audit_log ORDER BY seq`);
  return rows.map((row) => row.action);
}

beforeAll(async () => {
  fixture = await openChdb('policy-workflow');
  ({ writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool')));
  audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
  systemKey = systemKeyIn(fixture.dataDir);
  store = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey, audit, bootstrapDocument: basePolicy([alice, root]), pollIntervalMillis: 200 });
  governance = new GovernanceService({ client: fixture.client, database: fixture.database, store, audit });
  app = await buildGovernanceApp(governance, fixture.client, fixture.database);
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  await writer?.shutdown();
  await fixture?.cleanup();
});

describe('bootstrap', () => {
  it('makes the bootstrap policy version 1, signed by the system key', async () => {
    const policy = store.current();
    expect(policy.version).toBe(1);
    expect(policy.approvedBy).toBe('system');
    expect(policy.parentHash).toBe('');
    const response = await app.inject({ method: 'GET', url: '/admin/policy', headers: bearer(TOKENS.analyst) });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ version: 1, hash: policy.hash, parent_hash: '', approved_by: 'system' });
    expect(body.document.cost_centers.platform.allowed_models).toEqual(['gpt-5.1']);
    expect(await auditActions()).toEqual(['policy.activated']);
  });

  it('requires an admin token', async () => {
    const response = await app.inject({ method: 'GET', url: '/admin/policy' });
    expect(response.statusCode).toBe(401);
    const analystPropose = await app.inject({ method: 'POST', url: '/admin/policy/proposals', headers: bearer(TOKENS.analyst), payload: { patch: {}, justification: 'x', author: 'y' } });
    expect(analystPropose.statusCode).toBe(403);
  });
});

describe('propose → approve → hot-load', () => {
  let proposalId = '';
  let digest = '';

  it('creates a pending proposal with a diff and a digest binding base, document and id', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/admin/policy/proposals',
      headers: bearer(TOKENS.approver),
      payload: { patch: { cost_centers: { platform: { allowed_models: ['gpt-5.1', 'gpt-5.1-mini'] } } }, justification: 'cheaper model for small turns', author: 'dana' },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.status).toBe('pending');
    expect(body.source).toBe('human');
    expect(body.cost_centers).toEqual(['platform']);
    expect(body.diff.changes).toEqual([
      { op: 'replace', path: 'cost_centers.platform.allowed_models', before: ['gpt-5.1'], after: ['gpt-5.1', 'gpt-5.1-mini'] },
    ]);
    expect(body.diff.text).toContain('~ cost_centers.platform.allowed_models');
    expect(body.digest).toBe(approvalDigest({ proposalId: body.id, baseHash: store.current().hash, documentHash: body.document_hash }));
    proposalId = body.id;
    digest = body.digest;
    const listed = await app.inject({ method: 'GET', url: '/admin/policy/proposals?status=pending', headers: bearer(TOKENS.analyst) });
    expect(listed.json().proposals.map((p: { id: string }) => p.id)).toEqual([proposalId]);
  });

  it('refuses missing author or justification', async () => {
    await expect(governance.createProposal({ patch: { dry_run: true }, justification: '', author: 'x' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(governance.createProposal({ patch: { dry_run: true }, justification: 'why', author: ' ' })).rejects.toMatchObject({ code: 'invalid_request' });
    const invalid = await app.inject({ method: 'POST', url: '/admin/policy/proposals', headers: bearer(TOKENS.approver), payload: { patch: { cost_centers: { platform: { allowed_models: ['nope'] } } }, justification: 'x', author: 'y' } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.message).toContain('unknown model "nope"');
  });

  it('refuses a signature by the wrong key', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/admin/policy/proposals/${proposalId}/approve`,
      headers: bearer(TOKENS.approver),
      payload: { approver: 'alice', signature: mallory.sign(digest) },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.message).toContain('does not verify');
    // a signature over another text (e.g. an older digest) is refused too
    await expect(governance.approveProposal(proposalId, { approver: 'alice', signature: alice.sign(`${digest}x`) })).rejects.toBeInstanceOf(GatewayError);
    // someone not in the approvers list
    await expect(governance.approveProposal(proposalId, { approver: 'mallory', signature: mallory.sign(digest) })).rejects.toMatchObject({ code: 'forbidden' });
    expect(store.current().version).toBe(1);
  });

  it('activates on a valid in-scope signature; a second holder serves it within 2 s', async () => {
    const other = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey, audit, pollIntervalMillis: 1000 });
    try {
      expect(other.current().version).toBe(1);
      const response = await app.inject({
        method: 'POST',
        url: `/admin/policy/proposals/${proposalId}/approve`,
        headers: bearer(TOKENS.approver),
        payload: { approver: 'alice', signature: alice.sign(digest) },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().version).toBe(2);
      const approvedAt = Date.now();
      // the approving process serves it at once
      expect(store.current()).toMatchObject({ version: 2, approvedBy: 'alice' });
      expect(store.current().document.cost_centers.platform?.allowed_models).toEqual(['gpt-5.1', 'gpt-5.1-mini']);
      await waitFor(() => other.current().version === 2, 2000);
      expect(Date.now() - approvedAt).toBeLessThan(2000);
      expect(other.current().parentHash).toBe(store.current().parentHash);
    } finally {
      await other.close();
    }
    const policy = await app.inject({ method: 'GET', url: '/admin/policy', headers: bearer(TOKENS.analyst) });
    expect(policy.json()).toMatchObject({ version: 2, approved_by: 'alice' });
    const proposal = await app.inject({ method: 'GET', url: `/admin/policy/proposals/${proposalId}`, headers: bearer(TOKENS.analyst) });
    expect(proposal.json()).toMatchObject({ status: 'approved', decided_by: 'alice', activated_version: 2 });
    const again = await app.inject({ method: 'POST', url: `/admin/policy/proposals/${proposalId}/approve`, headers: bearer(TOKENS.approver), payload: { approver: 'alice', signature: alice.sign(digest) } });
    expect(again.statusCode).toBe(400);
    expect(await auditActions()).toEqual(['policy.activated', 'policy.proposed', 'policy.approved', 'policy.activated']);
  });

  it('refuses an approver whose scopes do not cover the change, and stale proposals', async () => {
    const research = await governance.createProposal({ patch: { cost_centers: { research: { retry_cap: 5 } } }, justification: 'more retries', author: 'dana' });
    expect(research.cost_centers).toEqual(['research']);
    const refused = await app.inject({
      method: 'POST',
      url: `/admin/policy/proposals/${research.id}/approve`,
      headers: bearer(TOKENS.approver),
      payload: { approver: 'alice', signature: alice.sign(research.digest) },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toContain('research');
    // a change to approvers needs scope "*"
    const approvers = await governance.createProposal({
      patch: { approvers: [{ id: 'alice', public_key: alice.keys.publicKeyPem, scopes: ['platform', 'research'] }, { id: 'root', public_key: root.keys.publicKeyPem, scopes: ['*'] }] },
      justification: 'alice takes research too',
      author: 'dana',
    });
    expect(approvers.cost_centers).toEqual(['*']);
    await expect(governance.approveProposal(approvers.id, { approver: 'alice', signature: alice.sign(approvers.digest) })).rejects.toMatchObject({ code: 'forbidden' });
    const approved = await governance.approveProposal(approvers.id, { approver: 'root', signature: root.sign(approvers.digest) });
    expect(approved.version).toBe(3);
    // the research proposal was made against version 2: stale now
    await expect(governance.approveProposal(research.id, { approver: 'root', signature: root.sign(research.digest) })).rejects.toThrow(/propose it again/);
  });

  it('rejects with a reason and lists history', async () => {
    const proposal = await governance.createProposal({ patch: { dry_run: true }, justification: 'test dry run', author: 'dana' });
    const response = await app.inject({ method: 'POST', url: `/admin/policy/proposals/${proposal.id}/reject`, headers: bearer(TOKENS.approver), payload: { reason: 'not now' } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'rejected', decided_by: 'reviewer', decision_reason: 'not now' });
    const noReason = await app.inject({ method: 'POST', url: `/admin/policy/proposals/${proposal.id}/reject`, headers: bearer(TOKENS.approver), payload: {} });
    expect(noReason.statusCode).toBe(400);
    const history = await app.inject({ method: 'GET', url: '/admin/policy/versions', headers: bearer(TOKENS.analyst) });
    const versions = history.json().versions as { version: number; approved_by: string; active: boolean; parent_hash: string; hash: string }[];
    expect(versions.map((v) => [v.version, v.approved_by, v.active])).toEqual([
      [3, 'root', true],
      [2, 'alice', false],
      [1, 'system', false],
    ]);
    expect(versions[0]!.parent_hash).toBe(versions[1]!.hash);
    expect(versions[1]!.parent_hash).toBe(versions[2]!.hash);
    expect(await auditActions()).toContain('policy.rejected');
  });

  it('rolls back through an approved proposal of the old document', async () => {
    const response = await app.inject({ method: 'POST', url: '/admin/policy/rollback', headers: bearer(TOKENS.approver), payload: { to_version: 1, justification: 'back to the bootstrap policy' } });
    expect(response.statusCode).toBe(201);
    const proposal = response.json();
    expect(proposal.status).toBe('pending');
    expect(store.current().version).toBe(3); // nothing changes before approval
    const approved = await app.inject({ method: 'POST', url: `/admin/policy/proposals/${proposal.id}/approve`, headers: bearer(TOKENS.approver), payload: { approver: 'root', signature: root.sign(proposal.digest) } });
    expect(approved.statusCode).toBe(200);
    expect(approved.json().version).toBe(4);
    const versions = await store.versions();
    expect(versions.find((v) => v.version === 4)?.hash).toBe(versions.find((v) => v.version === 1)?.hash);
    expect(versions.find((v) => v.version === 3)?.status).toBe('rolled_back');
    expect(store.current().version).toBe(4);
    const actions = await auditActions();
    expect(actions.slice(-3)).toEqual(['policy.approved', 'policy.activated', 'policy.rolled_back']);
  });

  it('rolls back automatically to the parent, signed by the system key', async () => {
    const change = await governance.createProposal({ patch: { cost_centers: { platform: { retry_cap: 9 } } }, justification: 'optimizer says so', author: 'optimizer', source: 'optimizer', summary: 'raise retry cap', math: { saving_usd_month: 12.5 } });
    expect(change).toMatchObject({ source: 'optimizer', summary: 'raise retry cap', math: { saving_usd_month: 12.5 } });
    await governance.approveProposal(change.id, { approver: 'alice', signature: alice.sign(change.digest) });
    expect(store.current().version).toBe(5);
    const result = await governance.rollbackToParent({ reason: 'task completion fell 4%', numbers: { baseline: 0.91, after: 0.87, samples: 412 } });
    expect(result).toEqual({ version: 6, from_version: 5, restored_version: 4 });
    expect(store.current()).toMatchObject({ version: 6, approvedBy: 'system' });
    expect(store.current().document.cost_centers.platform?.retry_cap).toBe(3);
    await audit.flush();
    const [event] = await queryRows<{ actor: string; details: string; cost_center: string }>(fixture.client, `SELECT actor, details, cost_center FROM gatehouse.audit_log WHERE action = 'policy.rolled_back' ORDER BY seq DESC LIMIT 1`);
    expect(event?.actor).toBe('system');
    expect(event?.cost_center).toBe('platform');
    expect(JSON.parse(event!.details)).toMatchObject({ from_version: 5, restored_version: 4, version: 6, reason: 'task completion fell 4%', numbers: { samples: 412 } });
  });
});

describe('tampering with stored versions', () => {
  it('refuses an altered document, audits it once, reports it and keeps the version in force', async () => {
    const before = store.current();
    expect(before.version).toBe(6);
    // An attacker with database access widens the allow-list of the active version in place.
    await fixture.client.command({
      query: `ALTER TABLE gatehouse.policy_versions UPDATE document = replaceOne(document, '"allowed_models":["gpt-5.1"]', '"allowed_models":["gpt-5.1","gpt-5.1-mini"]') WHERE version = 6`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    const [altered] = await queryRows<{ document: string; hash: string }>(fixture.client, `SELECT document, hash FROM gatehouse.policy_versions FINAL WHERE version = 6`);
    expect(sha256Hex(altered!.document)).not.toBe(altered!.hash); // the edit really happened
    await waitFor(() => store.readiness().refusal !== undefined, 3000);
    expect(store.readiness().refusal).toMatch(/version 6: document does not match its hash/);
    expect(store.readiness().ok).toBe(true); // still serving the verified version
    expect(store.current()).toBe(before);
    expect(store.current().document.cost_centers.research?.allowed_models).toEqual(['gpt-5.1']);
    await new Promise((resolve) => setTimeout(resolve, 600)); // several polls
    const refusals = await queryRows<{ details: string }>(fixture.client, (await audit.flush(), `SELECT details FROM gatehouse.audit_log WHERE action = 'policy.refused'`));
    expect(refusals).toHaveLength(1);
    expect(JSON.parse(refusals[0]!.details)).toMatchObject({ version: 6, kept_version: 6 });
    const response = await app.inject({ method: 'GET', url: '/admin/policy', headers: bearer(TOKENS.analyst) });
    expect(response.json().refusal).toContain('version 6');

    // A fresh process refuses the altered version too and falls back to the newest active one that
    // verifies (5 was rolled back, so 4).
    const fresh = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey, audit, pollIntervalMillis: 60_000 });
    try {
      expect(fresh.current().version).toBe(4);
      expect(fresh.readiness().refusal).toContain('version 6');
    } finally {
      await fresh.close();
    }
  });

  it('refuses an inserted unsigned or forged version', async () => {
    const [latest] = await queryRows<Record<string, unknown>>(fixture.client, `SELECT * FROM gatehouse.policy_versions FINAL WHERE version = 5`);
    const document = JSON.parse(latest!.document as string);
    document.cost_centers.research.allowed_models = ['gpt-5.1', 'gpt-5.1-mini'];
    const text = JSON.stringify(document);
    const forged = { ...latest, version: 7, document: text, hash: sha256Hex(text), parent_hash: latest!.hash, proposal_id: 'forged', status: 'active', signed_by: 'alice', approved_by: 'alice', signature: mallory.sign('anything'), created_at: '2030-01-01 00:00:00.000', updated_at: '2030-01-01 00:00:00.000' };
    await fixture.client.insert({ table: 'gatehouse.policy_versions', values: [forged], format: 'JSONEachRow' });
    await waitFor(() => (store.readiness().refusal ?? '').includes('version 7'), 3000);
    expect(store.readiness().refusal).toContain('does not verify');
    expect(store.current().version).toBe(6);
    await fixture.client.insert({ table: 'gatehouse.policy_versions', values: [{ ...forged, version: 8, signature: '', signed_by: '' }], format: 'JSONEachRow' });
    await waitFor(() => (store.readiness().refusal ?? '').includes('version 8'), 3000);
    expect(store.readiness().refusal).toContain('unsigned');
    expect(store.current().version).toBe(6);
  });

  it('keeps the audit chain intact through all of it', async () => {
    await audit.flush();
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification.ok).toBe(true);
    expect(verification.rows).toBeGreaterThan(15);
  });
});
