import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startTestGatehouse, TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { auditRowHash, auditRowText, type AuditRow } from '../../shared/audit/hash-chain-audit-log.ts';
import { canonicalJson } from '../../shared/signing/canonical-json.ts';
import type { AuditVerification } from '../../shared/audit/verify-audit-chain.ts';

// Issue #14: whoever writes audit_log could delete its last rows (verify still said ok, and the
// next event reused the deleted seq) or rewrite the chain with fresh hashes. The head is anchored
// in a signed checkpoint outside the table; verify (API and CLI) compares against it.
const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['bin/gatehouse.mjs', ...args], { env: { PATH: process.env.PATH }, timeout: 30_000 }).then(
    (done) => ({ ...done, code: 0 }),
    (error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }),
  );
const providers = { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } };

let dataDir = '';
let gatehouse: TestGatehouse;
let original: AuditRow[] = [];

async function verifyApi(): Promise<AuditVerification> {
  const response = await request(`${gatehouse.url}/admin/audit/verify`, { headers: { authorization: `Bearer ${TEST_ANALYST_TOKEN}` } });
  return (await response.body.json()) as AuditVerification;
}

const verifyCli = () => cli(['audit', 'verify', '--url', gatehouse.url, '--token', TEST_ANALYST_TOKEN]);

async function rows(): Promise<AuditRow[]> {
  const result = await gatehouse.clickhouse.query({ query: 'SELECT toString(ts) AS ts, seq, actor, action, subject, cost_center, details, policy_version, prev_hash, hash FROM gatehouse.audit_log ORDER BY seq', format: 'JSONEachRow' });
  return (await result.json<AuditRow>()).map((row) => ({ ...row, seq: Number(row.seq), policy_version: Number(row.policy_version) }));
}

async function replaceTable(next: AuditRow[]): Promise<void> {
  await gatehouse.clickhouse.command({ query: 'TRUNCATE TABLE gatehouse.audit_log' });
  if (next.length > 0) await gatehouse.clickhouse.insert({ table: 'gatehouse.audit_log', values: next, format: 'JSONEachRow', clickhouse_settings: { date_time_input_format: 'best_effort' } });
}

/** A chain that links and hashes correctly from `from` on, with one row's details changed. */
function rewritten(chain: AuditRow[], from: number): AuditRow[] {
  const result: AuditRow[] = [];
  for (const row of chain) {
    if (row.seq < from) {
      result.push(row);
      continue;
    }
    const previous = result[result.length - 1];
    const next = { ...row, prev_hash: previous?.hash ?? '', details: row.seq === from ? canonicalJson({ tampered: true }) : row.details };
    result.push({ ...next, hash: auditRowHash(next) });
  }
  return result;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-anchor-'));
  gatehouse = await startTestGatehouse({ providers, dataDir });
  for (const developer of ['kim', 'lee', 'max', 'ned']) {
    const response = await request(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ developer, cost_center: 'platform' }) });
    expect(response.statusCode).toBe(201);
    await response.body.arrayBuffer();
  }
  const clean = await verifyApi();
  expect(clean).toMatchObject({ ok: true });
  original = await rows();
}, 120_000);

afterAll(async () => {
  await gatehouse?.stop({ keepData: true });
  rmSync(dataDir, { recursive: true, force: true });
});

describe('audit chain anchored outside audit_log', () => {
  it('hashes each row over the same bytes as canonical JSON', () => {
    for (const row of original) expect(auditRowText(row)).toBe(canonicalJson({ seq: row.seq, ts: row.ts, actor: row.actor, action: row.action, subject: row.subject, cost_center: row.cost_center, details: row.details, policy_version: row.policy_version, prev_hash: row.prev_hash }));
  });

  it('an intact chain verifies and names the checkpoint it was compared with', async () => {
    const head = original[original.length - 1]!;
    const checkpoint = JSON.parse(readFileSync(join(dataDir, 'audit-checkpoint.json'), 'utf8')) as { seq: number; hash: string; signature: string };
    expect(checkpoint).toMatchObject({ seq: head.seq, hash: head.hash, signature: expect.any(String) });
    const verified = await verifyApi();
    expect(verified.anchors).toEqual([expect.objectContaining({ source: `checkpoint file ${join(dataDir, 'audit-checkpoint.json')}`, seq: head.seq, status: 'matched' })]);
    const printed = await verifyCli();
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`compared with checkpoint file ${join(dataDir, 'audit-checkpoint.json')}: seq ${head.seq}, matched`);
  });

  it('detects a rewritten chain (every link and hash recomputed)', async () => {
    await replaceTable(rewritten(original, 2));
    const verified = await verifyApi();
    expect(verified.ok).toBe(false);
    expect(verified.firstBroken).toMatchObject({ seq: original[original.length - 1]!.seq, reason: 'checkpoint_mismatch' });
    const printed = await verifyCli();
    expect(printed.code).toBe(1);
    expect(printed.stdout).toContain('checkpoint_mismatch');
    await replaceTable(original);
    expect(await verifyApi()).toMatchObject({ ok: true });
  });

  it('detects a reused seq (last row removed, another written in its place)', async () => {
    const last = original[original.length - 1]!;
    const reused = { ...last, subject: 'key_forged', prev_hash: original[original.length - 2]!.hash };
    await replaceTable([...original.slice(0, -1), { ...reused, hash: auditRowHash(reused) }]);
    const verified = await verifyApi();
    expect(verified).toMatchObject({ ok: false, firstBroken: { seq: last.seq, reason: 'checkpoint_mismatch' } });
    expect((await verifyCli()).stdout).toMatch(new RegExp(`BROKEN at seq ${last.seq} .*checkpoint_mismatch`));
    await replaceTable(original);
  });

  it('detects removed tail rows, and a restart continues after the checkpoint instead of reusing their seq', async () => {
    const last = original[original.length - 1]!;
    await replaceTable(original.slice(0, -2));
    const verified = await verifyApi();
    expect(verified).toMatchObject({ ok: false, lastSeq: last.seq - 2, firstBroken: { reason: 'tail_truncated', actual: `the table ends at seq ${last.seq - 2}` } });
    expect(verified.firstBroken?.expected).toContain(`rows up to seq ${last.seq} (checkpoint file`);
    const printed = await verifyCli();
    expect(printed.code).toBe(1);
    expect(printed.stdout).toContain('tail_truncated');

    await gatehouse.stop({ keepData: true });
    gatehouse = await startTestGatehouse({ providers, dataDir });
    const response = await request(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ developer: 'oz', cost_center: 'platform' }) });
    expect(response.statusCode).toBe(201);
    await response.body.arrayBuffer();
    await verifyApi(); // flushes the new event
    const seqs = (await rows()).map((row) => row.seq);
    expect(seqs[seqs.length - 1]).toBe(last.seq + 1);
    expect(new Set(seqs).size).toBe(seqs.length);
    // The write-ahead journal still held the removed rows and queued them again at the start,
    // so here the chain is whole again; without them verify reports the gap (seq_gap).
    expect(await verifyApi()).toMatchObject({ ok: true, lastSeq: last.seq + 1 });
  }, 120_000);
});
