import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin } from '../e2e/helpers/e2e-client.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../e2e/helpers/gatehouse-process.ts';
import { testPolicy } from '../helpers/start-test-gatehouse.ts';

/**
 * Audit rows wait up to a second in the batch writer before their insert. A process killed in that
 * second (kill -9, the OOM killer) must not leave a hole in the hash chain: the write-ahead journal
 * under data_dir/audit-journal brings the rows back at the next start.
 */
describe('audit events survive kill -9', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-audit-kill-'));
  const dataDir = join(folder, 'data');
  const start = () => startGatehouseProcess({ folder, dataDir, providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } }, policy: testPolicy() });
  let gatehouse: GatehouseProcess | undefined;

  afterAll(async () => {
    await gatehouse?.stop();
  });

  it('brings back the audit rows a killed process had not written, and the chain still verifies', async () => {
    gatehouse = await start();
    const created: string[] = [];
    for (const developer of ['kim', 'lee', 'max']) {
      const answer = await admin(gatehouse.url, 'POST', '/admin/keys', { developer, cost_center: 'platform' });
      expect(answer.status).toBe(201);
      created.push((answer.body as { id: string }).id);
    }
    // Killed within milliseconds of the last event: the batch writer (1 s flushes) has not inserted them.
    const exited = new Promise((resolve) => gatehouse?.child.once('exit', resolve));
    gatehouse.child.kill('SIGKILL');
    await exited;

    gatehouse = await start();
    const rows = await gatehouse.query<{ seq: string; subject: string }>(`SELECT seq, subject FROM gatehouse.audit_log WHERE action = 'key.created' ORDER BY seq`);
    expect(rows.map((row) => row.subject)).toEqual(created);
    expect((await admin(gatehouse.url, 'GET', '/admin/audit/verify')).body).toMatchObject({ ok: true });
    // New events continue the same chain after the recovered rows.
    expect((await admin(gatehouse.url, 'POST', '/admin/keys', { developer: 'ned', cost_center: 'platform' })).status).toBe(201);
    const all = await gatehouse.query<{ seq: string }>(`SELECT seq FROM gatehouse.audit_log ORDER BY seq`);
    expect(all.map((row) => Number(row.seq))).toEqual(all.map((_row, index) => index + 1));
  }, 120_000);
});
