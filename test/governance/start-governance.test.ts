import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { stringify as stringifyYaml } from 'yaml';
import { startGovernance } from '../../shared/governance/start-governance.ts';
import { adminTokenEntries, createRequireRole } from '../../gateway/plugins/admin-auth.ts';
import { registerErrorHandler } from '../../gateway/plugins/error-handler.ts';
import { governanceRoutePlugin } from '../../gateway/admin/governance-routes.ts';
import { verifyAuditChain } from '../../shared/audit/verify-audit-chain.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';
import { basePolicy, newApprover, newWriter, openChdb, type ChdbFixture } from './helpers/governance-fixture.ts';

const root = newApprover('root', ['*']);
let fixture: ChdbFixture;
let policyFile = '';

beforeAll(async () => {
  fixture = await openChdb('start');
  policyFile = join(fixture.dataDir, 'policy.yaml');
  writeFileSync(policyFile, stringifyYaml({ ...basePolicy([root]), keys: [{ key: 'vk_plaintext_secret_1', developer: 'dana', cost_center: 'platform' }] }));
});

afterAll(async () => {
  await fixture?.cleanup();
});

async function start(label: string) {
  const spoolDirectory = join(fixture.dataDir, `spool-${label}`);
  const { writer } = newWriter(fixture.client, fixture.database, spoolDirectory);
  const governance = await startGovernance({ client: fixture.client, database: fixture.database, dataDir: fixture.dataDir, writer, spoolDirectory, bootstrapPolicyFile: policyFile });
  return { governance, writer };
}

describe('startGovernance', () => {
  it('bootstraps from the policy file once, and a restart continues versions and the audit chain', async () => {
    const first = await start('1');
    expect(existsSync(join(fixture.dataDir, 'system-key.pem'))).toBe(true);
    expect(first.governance.store.current()).toMatchObject({ version: 1, approvedBy: 'system' });
    // Bootstrap keys are stored as hashes: policy versions are readable by analysts and kept forever.
    const [stored] = await (await fixture.client.query({ query: 'SELECT document FROM gatehouse.policy_versions WHERE version = 1', format: 'JSONEachRow' })).json<{ document: string }>();
    expect(stored!.document).not.toContain('vk_plaintext_secret_1');
    expect(first.governance.store.current().document.keys[0]).toMatchObject({ developer: 'dana', key_sha256: sha256Hex('vk_plaintext_secret_1') });
    const app = Fastify({ logger: false });
    registerErrorHandler(app, { debug: false });
    await governanceRoutePlugin(first.governance, { client: fixture.client, database: fixture.database, requireRole: createRequireRole(adminTokenEntries([{ name: 'ops', role: 'admin', token: 'admin-token-0123456789' }])) })(app);
    const created = await app.inject({ method: 'POST', url: '/admin/policy/proposals', headers: { authorization: 'Bearer admin-token-0123456789' }, payload: { patch: { dry_run: true }, justification: 'warm-up week', author: 'ops' } });
    expect(created.statusCode).toBe(201);
    const approved = await app.inject({ method: 'POST', url: `/admin/policy/proposals/${created.json().id}/approve`, headers: { authorization: 'Bearer admin-token-0123456789' }, payload: { approver: 'root', signature: root.sign(created.json().digest) } });
    expect(approved.json()).toEqual(expect.objectContaining({ version: 2 }));
    await app.close();
    await first.governance.close();
    await first.writer.shutdown();

    // The bootstrap file changes on disk: it must not become a version (later versions only through proposals).
    writeFileSync(policyFile, stringifyYaml({ ...basePolicy([root]), dry_run: false, alerts: {} }));
    const second = await start('2');
    expect(second.governance.store.current()).toMatchObject({ version: 2, approvedBy: 'root' });
    expect(second.governance.store.current().document.dry_run).toBe(true);
    expect(second.governance.audit.head().seq).toBe(4);
    second.governance.audit.record({ actor: 'ops', action: 'key.created', subject: 'key_1' });
    await second.governance.close();
    await second.writer.shutdown();
    const verification = await verifyAuditChain({ client: fixture.client, database: fixture.database });
    expect(verification).toMatchObject({ ok: true, rows: 5 });
  });
});
