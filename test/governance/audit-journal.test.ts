import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditJournal } from '../../shared/audit/audit-journal.ts';
import { HashChainAuditLog, auditRowHash, type AuditRow } from '../../shared/audit/hash-chain-audit-log.ts';
import { newWriter, openChdb, queryRows, type ChdbFixture } from './helpers/governance-fixture.ts';

let fixture: ChdbFixture;
beforeAll(async () => {
  fixture = await openChdb('audit-journal');
});
afterAll(async () => {
  await fixture?.cleanup();
});

/** A chain of `count` rows from seq 1, as HashChainAuditLog builds them. */
function chain(count: number): AuditRow[] {
  const rows: AuditRow[] = [];
  for (let seq = 1; seq <= count; seq += 1) {
    const partial = { ts: `2026-12-06 10:00:0${seq % 10}.000`, seq, actor: 'admin', action: 'key.created', subject: `key_${seq}`, cost_center: 'platform', details: '{}', policy_version: 1, prev_hash: rows.at(-1)?.hash ?? '' };
    rows.push({ ...partial, hash: auditRowHash(partial) });
  }
  return rows;
}

describe('audit write-ahead journal', () => {
  it('recovers the journaled rows storage lacks, looked up by seq (another gateway may have stored later ones)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-journal-'));
    const rows = chain(4);
    // Storage has seq 2 and 4 (say, rows another gateway flushed); 1 and 3 died with this process.
    await fixture.client.insert({ table: `${fixture.database}.audit_log`, values: [rows[1], rows[3]], format: 'JSONEachRow' });
    const journal = new AuditJournal(directory);
    for (const row of rows) journal.append(row);

    const { writer } = newWriter(fixture.client, fixture.database, join(directory, 'spool'));
    const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer, journalDirectory: directory });
    expect(audit.head()).toEqual({ seq: 4, hash: rows[3]?.hash });
    await writer.flush();
    const stored = await queryRows<{ seq: string; subject: string }>(fixture.client, `SELECT seq, subject FROM ${fixture.database}.audit_log ORDER BY seq`);
    expect(stored.map((row) => [Number(row.seq), row.subject])).toEqual(rows.map((row) => [row.seq, row.subject]));
    // The journal now holds only what was queued again; reopened after the flush, nothing is queued twice.
    expect(new AuditJournal(directory).read().map((row) => row.seq)).toEqual([1, 3]);
    const again = newWriter(fixture.client, fixture.database, join(directory, 'spool-2'));
    await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer: again.writer, journalDirectory: directory });
    await again.writer.flush();
    expect(await queryRows(fixture.client, `SELECT seq FROM ${fixture.database}.audit_log`)).toHaveLength(4);
    expect(new AuditJournal(directory).read()).toEqual([]);
  });

  it('rotates a full journal and drops the old file once its rows are flushed; a torn last line is skipped', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-journal-rotate-'));
    const journal = new AuditJournal(directory, 1024);
    const rows = chain(9);
    let release: () => void = () => {};
    const flushed = new Promise<void>((resolve) => (release = resolve));
    for (const row of rows.slice(0, 6)) journal.append(row);
    journal.rotateIfFull(() => flushed, (error) => expect.fail(String(error)));
    for (const row of rows.slice(6)) journal.append(row);
    // Until the flush is done both files count: a kill now still recovers every row.
    expect(readdirSync(directory).sort()).toEqual(['audit-journal.jsonl', 'audit-journal.old.jsonl']);
    expect(journal.read().map((row) => row.seq)).toEqual(rows.map((row) => row.seq));
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(existsSync(join(directory, 'audit-journal.old.jsonl'))).toBe(false);
    expect(journal.read().map((row) => row.seq)).toEqual([7, 8, 9]);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(directory, 'audit-journal.jsonl'), '{"seq":10,"ha');
    expect(new AuditJournal(directory).read().map((row) => row.seq)).toEqual([7, 8, 9]);
  });
});
