// Verification time of the audit chain: N rows (default 1,000,000) written into a fresh embedded
// ClickHouse, then verifyAuditChain timed with a checkpoint at the head. Usage:
//   node bench/audit-verify-bench.ts [rows]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouse } from '../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../shared/clickhouse/migrate.ts';
import { auditRowHash, type AuditRow } from '../shared/audit/hash-chain-audit-log.ts';
import { verifyAuditChain } from '../shared/audit/verify-audit-chain.ts';
import { signCheckpoint } from '../shared/audit/audit-checkpoint.ts';
import { loadOrCreateSystemKey } from '../shared/signing/system-key.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-bench-'));
const client = await createClickHouse({ url: 'embedded', database: 'gatehouse', dataDir });
await migrate(client, 'gatehouse');
const key = loadOrCreateSystemKey({ dataDir: join(dataDir, 'keys') });
let previous = '';
let batch: AuditRow[] = [];
const started = Date.now();
for (let seq = 1; seq <= total; seq += 1) {
  const partial = { ts: '2026-12-06 12:00:00.000', seq, actor: 'gateway', action: 'request.denied', subject: `req_${seq}`, cost_center: 'platform', details: `{"code":"model_not_allowed","model":"gpt-5.5","turn":${seq}}`, policy_version: 3, prev_hash: previous };
  const row = { ...partial, hash: auditRowHash(partial) };
  previous = row.hash;
  batch.push(row);
  if (batch.length === 100_000 || seq === total) {
    await client.insert({ table: 'gatehouse.audit_log', values: batch, format: 'JSONEachRow' });
    batch = [];
  }
}
console.log(`wrote ${total} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const anchors = [{ source: 'bench checkpoint', checkpoint: signCheckpoint({ seq: total, hash: previous }, key) }];
for (let round = 1; round <= 3; round += 1) {
  const begin = process.hrtime.bigint();
  const result = await verifyAuditChain({ client, database: 'gatehouse', anchors });
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  console.log(`round ${round}: verified ${result.rows} rows in ${seconds.toFixed(2)} s (ok=${result.ok}, anchor ${result.anchors[0]?.status}), ${((seconds * 1e6) / result.rows).toFixed(2)} µs/row`);
}
await client.close();
rmSync(dataDir, { recursive: true, force: true });
