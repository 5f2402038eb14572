import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Splits a migration file into statements (`;` at line end), dropping `--` comment lines. */
function statementsOf(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/**
 * Applies numbered migrations (`NNNN-name.sql`) in order, each once, recording them in
 * `{db}.schema_migrations`. Files whose first line is `-- retired` are skipped but keep their number.
 */
export async function migrate(client: ClickHouseClient, database: string): Promise<string[]> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY name`,
  });
  const appliedResult = await client.query({ query: `SELECT name FROM ${database}.schema_migrations`, format: 'JSONEachRow' });
  const applied = new Set((await appliedResult.json<{ name: string }>()).map((row) => row.name));
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{4}-.+\.sql$/.test(file))
    .sort();
  const newlyApplied: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
    if (!sql.startsWith('-- retired')) {
      for (const statement of statementsOf(sql.replaceAll('{db}', database))) await client.command({ query: statement });
    }
    await client.insert({ table: `${database}.schema_migrations`, values: [{ name: file }], format: 'JSONEachRow' });
    newlyApplied.push(file);
  }
  return newlyApplied;
}
