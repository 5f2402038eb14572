import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { HashChainAuditLog } from '../../shared/audit/hash-chain-audit-log.ts';
import { PolicyStore } from '../../shared/policy-store/policy-store.ts';
import { GovernanceService } from '../../shared/governance/governance-service.ts';
import { verifyText } from '../../shared/signing/ed25519.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { basePolicy, newApprover, newWriter, openChdb, queryRows, systemKeyIn, type ChdbFixture } from './helpers/governance-fixture.ts';
import { buildGovernanceApp, TOKENS } from './helpers/governance-app.ts';

const entry = fileURLToPath(new URL('./helpers/cli-entry.ts', import.meta.url));
const alice = newApprover('alice', ['platform']);
const bob = newApprover('bob', ['*']); // listed, but the test signs with the wrong file for him

let fixture: ChdbFixture;
let writer: BatchWriter;
let audit: HashChainAuditLog;
let store: PolicyStore;
let governance: GovernanceService;
let app: FastifyInstance;
let url = '';
let aliceKeyFile = '';

function cli(args: string[], token = TOKENS.approver): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [entry, ...args, '--url', url], { env: { ...process.env, GATEHOUSE_TOKEN: token }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  fixture = await openChdb('cli');
  ({ writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool')));
  audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
  store = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey: systemKeyIn(fixture.dataDir), audit, bootstrapDocument: basePolicy([alice, bob]), pollIntervalMillis: 60_000 });
  governance = new GovernanceService({ client: fixture.client, database: fixture.database, store, audit });
  app = await buildGovernanceApp(governance, fixture.client, fixture.database);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  aliceKeyFile = join(fixture.dataDir, 'alice.pem');
  writeFileSync(aliceKeyFile, alice.keys.privateKeyPem, { mode: 0o600 });
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  await writer?.shutdown();
  await fixture?.cleanup();
});

describe('gatehouse policy / audit CLI', () => {
  let proposalId = '';

  it('proposes a patch and shows its diff and digest', async () => {
    const patchFile = join(fixture.dataDir, 'patch.json');
    writeFileSync(patchFile, JSON.stringify({ cost_centers: { platform: { allowed_models: ['gpt-5.1', 'gpt-5.1-mini'] } } }));
    const proposed = await cli(['policy', 'propose', '--patch', patchFile, '--justification', 'cheaper model', '--author', 'dana', '--json']);
    expect(proposed.stderr).toBe('');
    expect(proposed.code).toBe(0);
    const proposal = JSON.parse(proposed.stdout);
    proposalId = proposal.id;
    const diff = await cli(['policy', 'diff', proposalId]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('~ cost_centers.platform.allowed_models: ["gpt-5.1"] -> ["gpt-5.1","gpt-5.1-mini"]');
    expect(diff.stdout).toContain(proposal.digest);
  });

  it('refuses approval signed with a key that is not the approver\'s', async () => {
    const result = await cli(['policy', 'approve', proposalId, '--key', aliceKeyFile, '--approver', 'bob']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('does not verify');
    expect(store.current().version).toBe(1);
  });

  it('policy approve signs the digest locally with the approver key and activates', async () => {
    const result = await cli(['policy', 'approve', proposalId, '--key', aliceKeyFile, '--approver', 'alice']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('policy version 2 is active');
    expect(store.current()).toMatchObject({ version: 2, approvedBy: 'alice' });
    // The stored signature is alice's Ed25519 signature over the digest.
    const proposal = await governance.getProposal(proposalId);
    const [row] = await queryRows<{ signature: string }>(fixture.client, `SELECT signature FROM gatehouse.policy_versions FINAL WHERE version = 2`);
    expect(verifyText(alice.keys.publicKeyPem, proposal.digest, row!.signature)).toBe(true);
    const history = await cli(['policy', 'history'], TOKENS.analyst);
    expect(history.code).toBe(0);
    expect(history.stdout.split('\n')[0]).toMatch(/^\* v2 .* approved by alice/);
    const show = await cli(['policy', 'show'], TOKENS.analyst);
    expect(show.stdout).toContain('# version 2');
    expect(show.stdout).toContain('gpt-5.1-mini');
  });

  it('refuses to sign when the stored proposal no longer matches its digest', async () => {
    const proposal = await governance.createProposal({ patch: { cost_centers: { platform: { retry_cap: 4 } } }, justification: 'x', author: 'dana' });
    // Someone with database access swaps the proposed document but leaves the digest.
    await fixture.client.command({
      query: `ALTER TABLE gatehouse.proposals UPDATE document = replaceOne(document, '"retry_cap":4', '"retry_cap":40') WHERE id = '${proposal.id}'`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    const result = await cli(['policy', 'approve', proposal.id, '--key', aliceKeyFile, '--approver', 'alice']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing to sign');
    // and the server refuses a signature over the old digest as well
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature: alice.sign(proposal.digest) })).rejects.toThrow(/altered/);
    expect(store.current().version).toBe(2);
    // the diff shown is recomputed from the stored documents, so it shows the swapped value
    expect((await governance.getProposal(proposal.id)).diff.text).toContain('-> 40');
  });

  it('policy reject needs a reason and records it', async () => {
    const proposal = await governance.createProposal({ patch: { dry_run: true }, justification: 'try', author: 'dana' });
    expect((await cli(['policy', 'reject', proposal.id])).code).toBe(2);
    const rejected = await cli(['policy', 'reject', proposal.id, '--reason', 'not during the freeze']);
    expect(rejected.code).toBe(0);
    expect((await governance.getProposal(proposal.id)).status).toBe('rejected');
  });

  it('audit export writes JSON Lines and audit verify names the first broken row', async () => {
    await audit.flush();
    const exported = await cli(['audit', 'export'], TOKENS.analyst);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.action)).toEqual(['policy.activated', 'policy.proposed', 'policy.approved', 'policy.activated', 'policy.proposed', 'policy.proposed', 'policy.rejected']);
    expect(Object.keys(lines[0])).toEqual(['ts', 'seq', 'actor', 'action', 'subject', 'cost_center', 'policy_version', 'details', 'details_text', 'prev_hash', 'hash']);
    expect(lines[0].ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const paged = await cli(['audit', 'export', '--page-size', '2'], TOKENS.analyst);
    expect(paged.stdout).toBe(exported.stdout);
    const limited = await cli(['audit', 'export', '--page-size', '2', '--limit', '3'], TOKENS.analyst);
    expect(limited.stdout.trim().split('\n').map((line) => JSON.parse(line).seq)).toEqual([1, 2, 3]);
    const since = await cli(['audit', 'export', '--after-seq', '4'], TOKENS.analyst);
    expect(since.stdout.trim().split('\n')).toHaveLength(3);

    const ok = await cli(['audit', 'verify'], TOKENS.analyst);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('audit chain ok: 7 rows');
    await fixture.client.command({ query: `ALTER TABLE gatehouse.audit_log UPDATE details = '{}' WHERE seq = 3`, clickhouse_settings: { mutations_sync: '2' } });
    const broken = await cli(['audit', 'verify'], TOKENS.analyst);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('audit chain BROKEN at seq 3 (policy.approved');
    expect(broken.stdout).toContain('hash_mismatch');
  });

  it('reports an unreachable gateway or a missing token plainly', async () => {
    // No token is a usage error (exit 2) caught before any request, as for every admin command; a wrong one is a refused request.
    const noToken = await cli(['policy', 'show'], '');
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('GATEHOUSE_TOKEN');
    const wrongToken = await cli(['policy', 'show'], 'not-a-token-0000000000');
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/^gatehouse: GET \/admin\/policy failed \(HTTP 401\): /);
    expect(wrongToken.stderr.match(/gatehouse:/g)).toHaveLength(1);
  });
});
