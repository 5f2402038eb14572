import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeInsertSettings, scopeSelectSettings, withQueryScopedSettings } from '../../shared/clickhouse/query-scoped-settings.ts';

let dataDir: string;
let client: ClickHouseClient;

async function rows<T>(query: string, settings?: Record<string, string | number>): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow', ...(settings ? { clickhouse_settings: settings } : {}) });
  return result.json<T>();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-scoped-'));
  const { createChdbConnection } = await import('chdb/connection');
  client = createClient({ connection: withQueryScopedSettings(createChdbConnection({ path: dataDir })) } as Parameters<typeof createClient>[0]);
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS scoped' });
  await client.command({ query: 'CREATE TABLE scoped.events (ts DateTime64(3, \'UTC\'), n UInt32) ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100' });
});

afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('query-scoped settings on chDB', () => {
  it('applies a setting to its own query only', async () => {
    expect(await rows<{ threads: number | string }>("SELECT getSetting('max_threads') AS threads", { max_threads: 3 })).toEqual([{ threads: 3 }]);
    const [after] = await rows<{ threads: number | string }>("SELECT getSetting('max_threads') AS threads");
    expect(Number(after?.threads)).not.toBe(3);
  });

  it('keeps readonly to the analyst query: later writes still work', async () => {
    await expect(rows('SELECT 1 AS one', { readonly: '2' })).resolves.toEqual([{ one: 1 }]);
    await client.insert({ table: 'scoped.events', values: [{ ts: '2026-11-01T10:00:00Z', n: 1 }], format: 'JSONEachRow', clickhouse_settings: { date_time_input_format: 'best_effort' } });
    expect(await rows('SELECT n FROM scoped.events ORDER BY n')).toEqual([{ n: 1 }]);
  });

  it('honours a deduplication token for its insert without dropping the next token-less insert', async () => {
    const tokenized = { insert_deduplication_token: 'batch-7', insert_deduplicate: 1 as const };
    await client.insert({ table: 'scoped.events', values: [{ ts: '2026-11-01 10:00:00', n: 7 }], format: 'JSONEachRow', clickhouse_settings: tokenized });
    await client.insert({ table: 'scoped.events', values: [{ ts: '2026-11-01 10:00:00', n: 7 }], format: 'JSONEachRow', clickhouse_settings: tokenized });
    await client.insert({ table: 'scoped.events', values: [{ ts: '2026-11-01 10:00:00', n: 8 }], format: 'JSONEachRow' });
    expect(await rows('SELECT n FROM scoped.events WHERE n >= 7 ORDER BY n')).toEqual([{ n: 7 }, { n: 8 }]);
  });
});

describe('statement rewriting', () => {
  it('puts SETTINGS after a query and before an insert FORMAT, leaving chDB options alone', () => {
    expect(scopeSelectSettings({ query: 'SELECT 1 -- note;\n \nFORMAT JSONEachRow', clickhouse_settings: { readonly: '2', default_format: 'CSV' } })).toEqual({
      query: 'SELECT 1 -- note;\n \nFORMAT JSONEachRow\nSETTINGS readonly = 2',
      clickhouse_settings: { default_format: 'CSV' },
    });
    expect(scopeInsertSettings({ query: 'INSERT INTO db.t (a, b) FORMAT JSONEachRow', clickhouse_settings: { insert_deduplication_token: "x'y", insert_deduplicate: 1 } })).toEqual({
      query: "INSERT INTO db.t (a, b) SETTINGS insert_deduplication_token = 'x\\'y', insert_deduplicate = 1 FORMAT JSONEachRow",
      clickhouse_settings: undefined,
    });
    const untouched = { query: 'SELECT 1' };
    expect(scopeSelectSettings(untouched)).toBe(untouched);
  });
});
