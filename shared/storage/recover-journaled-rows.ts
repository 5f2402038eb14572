import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { BatchWriter } from './batch-writer.ts';
import type { SpooledBatch } from './disk-spool.ts';
import type { WriteAheadJournal } from './write-ahead-journal.ts';

export interface RecoverJournaledRowsOptions {
  client: ClickHouseClient;
  database: string;
  /** Unqualified table the journal holds rows of. */
  table: string;
  /** Column that identifies a row (`request_id` for spans). */
  keyColumn: string;
  journal: WriteAheadJournal;
  writer: BatchWriter;
  /** The writer's spool: rows there are not lost, they wait for ClickHouse. */
  spoolDirectory: string;
}

/**
 * At start: queues again the journal's rows that neither the table nor the spool holds (a killed
 * process had them only in memory), and keeps only those in the journal. Looked up by key, so a
 * row whose insert landed just before the kill is not written twice.
 * @returns how many rows were queued again
 */
export async function recoverJournaledRows(options: RecoverJournaledRowsOptions): Promise<number> {
  const byKey = new Map<string, string>();
  for (const line of options.journal.readLines()) {
    try {
      const key = String((JSON.parse(line) as Record<string, unknown>)[options.keyColumn] ?? '');
      if (key !== '') byKey.set(key, line);
    } catch {
      // a line a kill cut short
    }
  }
  if (byKey.size === 0) {
    options.journal.reset([]);
    return 0;
  }
  const held = spooledKeys(options.spoolDirectory, options.table, options.keyColumn);
  const keys = [...byKey.keys()];
  for (let start = 0; start < keys.length; start += 10_000) {
    const result = await options.client.query({
      query: `SELECT DISTINCT ${options.keyColumn} AS key FROM ${options.database}.${options.table} WHERE ${options.keyColumn} IN {keys:Array(String)}`,
      query_params: { keys: keys.slice(start, start + 10_000) },
      format: 'JSONEachRow',
    });
    for (const row of await result.json<{ key: string }>()) held.add(row.key);
  }
  const lost = [...byKey].filter(([key]) => !held.has(key)).map(([, line]) => line);
  options.journal.reset(lost);
  for (const line of lost) options.writer.writeLine(options.table, line, { journal: false });
  return lost.length;
}

function spooledKeys(directory: string, table: string, keyColumn: string): Set<string> {
  const keys = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith(`-${table}.json`));
  } catch {
    return keys;
  }
  for (const name of names) {
    try {
      const batch = JSON.parse(readFileSync(join(directory, name), 'utf8')) as SpooledBatch;
      for (const row of batch.rows) keys.add(String(row[keyColumn] ?? ''));
    } catch {
      // an unreadable batch is left to the spool's replay
    }
  }
  return keys;
}
