import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, testPolicy, TEST_ADMIN_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const APPROVER_ROLE_TOKEN = 'test-approver-role-token-0123456789';

/** `node bin/gatehouse.mjs …` as an operator runs it; resolves with the exit code instead of rejecting. */
async function gatehouse(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface AuditLine {
  action: string;
  actor: string;
  subject: string;
  details: Record<string, unknown>;
}

describe('from a fresh install to the first approver (real CLI, real gateway)', () => {
  let gateway: TestGatehouse;
  let folder = '';
  let admin: Record<string, string> = {};
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-first-approvers-'));
    // The shipped policies list no approvers: a fresh install.
    gateway = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9', api_key: 'sk_test' } },
      policy: testPolicy({ approvers: [] }),
      configure: (config) => void config.admin.tokens.push({ name: 'ops-approver', role: 'approver', token: APPROVER_ROLE_TOKEN }),
    });
    admin = { GATEHOUSE_URL: gateway.url, GATEHOUSE_TOKEN: TEST_ADMIN_TOKEN };
  });
  afterAll(async () => {
    const dataDir = gateway?.dataDir;
    await gateway?.stop();
    if (dataDir) rmSync(join(dataDir, '..'), { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
  });

  async function propose(patch: unknown, justification: string, env = admin): Promise<string> {
    const file = join(folder, `patch-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(patch));
    const proposed = await gatehouse(['policy', 'propose', '--patch', file, '--justification', justification, '--json'], env);
    expect(proposed.stderr).toBe('');
    expect(proposed.code).toBe(0);
    return (JSON.parse(proposed.stdout) as { id: string }).id;
  }

  async function auditLines(): Promise<AuditLine[]> {
    const exported = await gatehouse(['audit', 'export'], admin);
    return exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as AuditLine);
  }

  it('keygen writes ID.key.pem (0600) and ID.pub.pem and prints the policy block', async () => {
    const result = await gatehouse(['approver', 'keygen', '--id', 'carol', '--out', folder]);
    expect(result.code).toBe(0);
    expect(statSync(join(folder, 'carol.key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(folder, 'carol.key.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    const publicKey = readFileSync(join(folder, 'carol.pub.pem'), 'utf8');
    expect(result.stdout).toContain('approvers:\n  - id: carol\n');
    expect(result.stdout).toContain(publicKey.split('\n')[1]);
    expect(result.stdout).toContain('scopes:\n      - "*"');
    expect(result.stdout).not.toContain('PRIVATE');
    // A second keygen does not overwrite the key silently.
    const again = await gatehouse(['approver', 'keygen', '--id', 'carol', '--out', folder]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^gatehouse: .*carol\.key\.pem exists; pass --force/);
  });

  it('a proposal that does more than add approvers cannot use the first-approvers rule', async () => {
    const block = (await gatehouse(['approver', 'keygen', '--id', 'mallory', '--out', folder])).stdout;
    // The block keygen printed is the patch: approvers plus something else.
    const id = await propose({ ...(parse(block) as object), cost_centers: { platform: { allowed_models: ['gpt-5.5'] } } }, 'approver plus a model change');
    const approved = await gatehouse(['policy', 'approve', id, '--key', join(folder, 'mallory.key.pem'), '--approver', 'mallory'], admin);
    expect(approved.code).toBe(1);
    expect(approved.stderr).toContain('only a proposal that adds approvers and changes nothing else');
    await gatehouse(['policy', 'reject', id, '--reason', 'split it'], admin);
  });

  let addCarol = '';
  it('only an admin token may approve the first approvers, signed by the new approver\'s own key', async () => {
    const carolPublic = readFileSync(join(folder, 'carol.pub.pem'), 'utf8');
    addCarol = await propose({ approvers: [{ id: 'carol', public_key: carolPublic, scopes: ['*'] }] }, 'first approver');
    const byApproverRole = await gatehouse(['policy', 'approve', addCarol, '--key', join(folder, 'carol.key.pem'), '--approver', 'carol'], { GATEHOUSE_URL: gateway.url, GATEHOUSE_TOKEN: APPROVER_ROLE_TOKEN });
    expect(byApproverRole.code).toBe(1);
    expect(byApproverRole.stderr).toContain('only be approved with an admin token');
    // Signed with another key than the one the proposal lists for carol.
    const wrongKey = await gatehouse(['policy', 'approve', addCarol, '--key', join(folder, 'mallory.key.pem'), '--approver', 'carol'], admin);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('does not verify');
    const approved = await gatehouse(['policy', 'approve', addCarol, '--key', join(folder, 'carol.key.pem'), '--approver', 'carol'], admin);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`approved ${addCarol}: policy version 2 is active`);
    expect(gateway.context.policy.current().document.approvers.map((approver) => approver.id)).toEqual(['carol']);
  });

  it('the audit log records the approval as a first-approvers approval by the admin', async () => {
    const approved = (await auditLines()).find((line) => line.action === 'policy.approved' && line.subject === addCarol);
    expect(approved).toMatchObject({ actor: 'test-admin', details: { approver: 'carol', first_approvers: true, admin: 'test-admin', version: 2 } });
    expect(String(approved?.details.rule)).toContain('listed no approvers');
  });

  it('carol signs the next proposal; the rule is closed now that an approver exists', async () => {
    const next = await propose({ cost_centers: { platform: { allowed_models: ['gpt-5.5'] } } }, 'only the big model');
    const approved = await gatehouse(['policy', 'approve', next, '--key', join(folder, 'carol.key.pem'), '--approver', 'carol'], admin);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toContain('policy version 3 is active');
    const byCarol = (await auditLines()).find((line) => line.action === 'policy.approved' && line.subject === next);
    expect(byCarol).toMatchObject({ actor: 'carol' });
    expect(byCarol?.details.first_approvers).toBeUndefined();
    // An admin can no longer add an approver on their own say-so.
    expect((await gatehouse(['approver', 'keygen', '--id', 'dave', '--out', folder])).code).toBe(0);
    // approver add restates the active approvers (a merge patch replaces arrays whole) and adds dave.
    const added = await gatehouse(['approver', 'add', '--id', 'dave', '--public-key', join(folder, 'dave.pub.pem'), '--scope', 'platform', '--justification', 'second approver', '--json'], admin);
    expect(added.stderr).toBe('');
    const addDaveProposal = JSON.parse(added.stdout) as { id: string; summary: string; diff: { changes: { path: string }[] } };
    expect(addDaveProposal.summary).toBe('Add approver dave (scopes platform)');
    expect(addDaveProposal.diff.changes.map((change) => change.path).join(' ')).not.toContain('carol');
    const addDave = addDaveProposal.id;
    const refused = await gatehouse(['policy', 'approve', addDave, '--key', join(folder, 'dave.key.pem'), '--approver', 'dave'], admin);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('"dave" is not an approver in the active policy');
    const byCarolAgain = await gatehouse(['policy', 'approve', addDave, '--key', join(folder, 'carol.key.pem'), '--approver', 'carol'], admin);
    expect(byCarolAgain.stdout).toContain('policy version 4 is active');
    expect(gateway.context.policy.current().document.approvers.map((approver) => [approver.id, approver.scopes])).toEqual([['carol', ['*']], ['dave', ['platform']]]);
  });

  it('policy history, the API and a restart agree on the statuses: active, rolled_back, superseded', async () => {
    const rollback = await gatehouse(['policy', 'rollback', '--to-version', '3', '--justification', 'dave was a mistake', '--json'], admin);
    expect(rollback.code).toBe(0);
    const rolledBack = await gatehouse(['policy', 'approve', (JSON.parse(rollback.stdout) as { id: string }).id, '--key', join(folder, 'carol.key.pem'), '--approver', 'carol'], admin);
    expect(rolledBack.stdout).toContain('policy version 5 is active');
    const history = await gatehouse(['policy', 'history', '--json'], admin);
    const versions = JSON.parse(history.stdout) as { version: number; status: string; active: boolean }[];
    expect(versions.map(({ version, status, active }) => ({ version, status, active }))).toEqual([
      { version: 5, status: 'active', active: true },
      { version: 4, status: 'rolled_back', active: false },
      { version: 3, status: 'superseded', active: false },
      { version: 2, status: 'superseded', active: false },
      { version: 1, status: 'superseded', active: false },
    ]);
    const text = await gatehouse(['policy', 'history'], admin);
    expect(text.stdout.split('\n').filter((line) => /\bactive\b/.test(line))).toHaveLength(1);
    expect(text.stdout).toMatch(/^\* v5 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}active/);
    const one = await (await fetch(`${gateway.url}/admin/policy/versions/2`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).json();
    expect(one).toMatchObject({ version: 2, status: 'superseded', active: false });
    // A restart verifies the stored chain again, the first-approvers version included.
    await gateway.stop({ keepData: true });
    gateway = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9', api_key: 'sk_test' } }, policy: testPolicy({ approvers: [] }), dataDir: gateway.dataDir });
    expect(gateway.context.policy.current().version).toBe(5);
    expect(gateway.context.policy.current().document.approvers.map((approver) => approver.id)).toEqual(['carol']);
    const after = await gatehouse(['policy', 'history', '--json'], { GATEHOUSE_URL: gateway.url, GATEHOUSE_TOKEN: TEST_ADMIN_TOKEN });
    expect((JSON.parse(after.stdout) as { status: string }[]).map((version) => version.status)).toEqual(['active', 'rolled_back', 'superseded', 'superseded', 'superseded']);
  });
});

describe('a bootstrap file that differs from what is served is reported at start', () => {
  let folder = '';
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-bootstrap-drift-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  /** Runs `gatehouse start` until it prints where it listens, then stops it; returns what it printed. */
  function startOnce(): Promise<{ stdout: string; stderr: string; code: number | null }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), 'start', '--config', join(folder, 'gatehouse.yaml')], { cwd: folder, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('listening on')) child.kill('SIGTERM');
      });
      child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ stdout, stderr, code }));
    });
  }

  it('says nothing while the file is what is served, and names the edit and what to do once it is not', async () => {
    writeFileSync(join(folder, 'policy.yaml'), stringify(testPolicy()));
    writeFileSync(join(folder, 'gatehouse.yaml'), stringify({ server: { host: '127.0.0.1', port: 0 }, data_dir: join(folder, 'data'), policy: 'policy.yaml', providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9', api_key: 'sk_test' } }, logging: { level: 'warn' } }));
    const first = await startOnce();
    expect(first.stdout).toContain('policy v1');
    expect(first.stderr).not.toContain('differs');
    // The operator edits the bootstrap file after the first start.
    writeFileSync(join(folder, 'policy.yaml'), stringify(testPolicy({ cost_centers: { platform: { allowed_models: ['gpt-5.5'], allowed_providers: ['openai'] } } })));
    const second = await startOnce();
    expect(second.stdout).toContain('policy v1');
    expect(second.stderr).toContain('gatehouse: warning: policy.yaml differs from the policy being served (version 1) and is NOT applied');
    expect(second.stderr).toContain('cost_centers.platform.allowed_models');
    expect(second.stderr).toContain('npx gatehouse policy propose --file policy.yaml');
  });
});
