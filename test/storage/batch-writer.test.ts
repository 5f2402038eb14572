import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { DiskSpool } from '../../shared/storage/disk-spool.ts';
import { spanRow } from '../helpers/span-row.ts';

/** The real embedded ClickHouse; the client's exec and insert are watched to count the INSERT statements. */
describe('batch writer on embedded ClickHouse', () => {
  let clickhouse: ClickHouseClient;
  /** Tables of the INSERT statements sent, in order. */
  const inserts: string[] = [];
  let failNext = false;
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-batch-writer-'));

  beforeAll(async () => {
    clickhouse = await createClickHouse({ url: 'embedded', database: 'gatehouse', dataDir: folder });
    await migrate(clickhouse, 'gatehouse');
    const exec = clickhouse.exec.bind(clickhouse);
    clickhouse.exec = (async (params: Parameters<ClickHouseClient['exec']>[0]) => {
      const insert = /^INSERT INTO gatehouse\.(\w+)/.exec(params.query);
      if (insert) {
        if (failNext) {
          failNext = false;
          throw new Error('ClickHouse went away');
        }
        inserts.push(insert[1] ?? '');
      }
      return exec(params);
    }) as ClickHouseClient['exec'];
    // An insert through client.insert counts too, whichever way the writer sends its batches.
    const insert = clickhouse.insert.bind(clickhouse);
    clickhouse.insert = (async (params: Parameters<ClickHouseClient['insert']>[0]) => {
      inserts.push(params.table.replace(/^gatehouse\./, ''));
      return insert(params);
    }) as ClickHouseClient['insert'];
  });
  afterAll(async () => {
    await clickhouse?.close();
  });

  const row = (overrides: Parameters<typeof spanRow>[0]) => spanRow(overrides) as unknown as Record<string, unknown>;
  const countSpans = async (prefix: string) => {
    const result = await clickhouse.query({ query: `SELECT count() AS n FROM gatehouse.spans WHERE request_id LIKE {prefix:String}`, query_params: { prefix: `${prefix}%` }, format: 'JSONEachRow' });
    return Number(((await result.json()) as { n: string }[])[0]?.n);
  };

  it('writes rows that keep arriving during an insert in one later insert, not one insert each', async () => {
    const writer = new BatchWriter({ client: clickhouse, database: 'gatehouse', spool: new DiskSpool(join(folder, 'spool-a'), 1e8), maxBatchRows: 500, flushIntervalMillis: 60_000 });
    inserts.length = 0;
    // The 500th row starts a flush; 200 more trickle in over the next ~0.4 s, as requests do.
    for (let index = 0; index < 700; index += 1) {
      writer.write('spans', [row({ request_id: `arrive_${index}` })]);
      if (index >= 500) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await writer.flush();
    expect(await countSpans('arrive_')).toBe(700);
    // What was queued when the flush began (500 and the row written before it ran), then the rest at
    // the final flush. The old writer chased the arrivals with an insert (a part, later a merge)
    // per handful of rows for as long as they kept coming: 59 here.
    expect(inserts.filter((table) => table === 'spans').length).toBeLessThanOrEqual(3);
    await writer.shutdown();
  });

  it('keeps rows written while ClickHouse fails on disk and inserts them exactly once when it answers', async () => {
    const spoolFolder = join(folder, 'spool-b');
    const writer = new BatchWriter({ client: clickhouse, database: 'gatehouse', spool: new DiskSpool(spoolFolder, 1e8), maxBatchRows: 1000, flushIntervalMillis: 60_000, replayIntervalMillis: 60_000 });
    failNext = true;
    writer.write('spans', [row({ request_id: 'spooled_1', cost_usd: 0.25, tags: ['team:a'] }), row({ request_id: 'spooled_2' })]);
    await writer.flush();
    expect(writer.stats().spooledBatches).toBe(1);
    // The spool keeps whole rows (the audit log reads them back to recover its chain head).
    const file = readdirSync(spoolFolder).find((name) => name.endsWith('.json')) ?? '';
    const spooled = JSON.parse(readFileSync(join(spoolFolder, file), 'utf8')) as { rows: { request_id: string; cost_usd: number; tags: string[] }[] };
    expect(spooled.rows[0]).toMatchObject({ request_id: 'spooled_1', cost_usd: 0.25, tags: ['team:a'] });
    expect(await countSpans('spooled_')).toBe(0);
    expect(await writer.replaySpool()).toBe(1);
    expect(await writer.replaySpool()).toBe(0);
    expect(await countSpans('spooled_')).toBe(2);
    const cost = await clickhouse.query({ query: `SELECT cost_usd, tags FROM gatehouse.spans WHERE request_id = 'spooled_1'`, format: 'JSONEachRow' });
    expect(await cost.json()).toEqual([{ cost_usd: 0.25, tags: ['team:a'] }]);
    await writer.shutdown();
  });

  it('carries rows across its buffers byte for byte: multi-byte text, rows spanning buffers, a row larger than a buffer', async () => {
    const writer = new BatchWriter({ client: clickhouse, database: 'gatehouse', spool: new DiskSpool(join(folder, 'spool-d'), 1e8), flushIntervalMillis: 60_000 });
    // ~1.2 MB in all: several 256 KB buffers, lines of every length ending anywhere in them.
    const messages = Array.from({ length: 1500 }, (_, index) => `${'é漢🙂"\\'.repeat(index % 97)}${'x'.repeat((index * 37) % 700)}`);
    messages[700] = 'y'.repeat(300 * 1024);
    messages.forEach((message, index) => writer.write('spans', [row({ request_id: `bytes_${index}`, error_message: message })]));
    await writer.flush();
    expect(await countSpans('bytes_')).toBe(1500);
    const result = await clickhouse.query({ query: `SELECT request_id, error_message FROM gatehouse.spans WHERE request_id LIKE 'bytes_%'`, format: 'JSONEachRow' });
    const stored = new Map(((await result.json()) as { request_id: string; error_message: string }[]).map((entry) => [entry.request_id, entry.error_message]));
    messages.forEach((message, index) => expect(stored.get(`bytes_${index}`)).toBe(message));
    await writer.shutdown();
  });

  it('counts a row JSON cannot carry as dropped instead of throwing at the caller', async () => {
    const errors: string[] = [];
    const writer = new BatchWriter({ client: clickhouse, database: 'gatehouse', spool: new DiskSpool(join(folder, 'spool-c'), 1e8), flushIntervalMillis: 60_000, onError: (_error, table) => errors.push(table) });
    expect(() => writer.write('spans', [row({ request_id: 'odd_1', cost_usd: 10n as unknown as number }), row({ request_id: 'odd_2' })])).not.toThrow();
    await writer.flush();
    expect(writer.stats()).toMatchObject({ droppedRows: 1, queuedRows: 0 });
    expect(errors).toEqual(['spans']);
    expect(await countSpans('odd_')).toBe(1);
    await writer.shutdown();
  });
});

/** A ClickHouse server that accepts the insert and never answers: the writer must not wait for it forever. */
describe('batch writer against a ClickHouse that hangs', () => {
  it('treats an insert with no answer after insertTimeoutMillis as failed and spools the batch', async () => {
    const { createServer } = await import('node:http');
    const held: import('node:http').ServerResponse[] = [];
    let received = 0;
    const server = createServer((request, response) => {
      request.resume();
      received += 1;
      held.push(response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-hung-insert-'));
    const client = await createClickHouse({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, database: 'gatehouse', dataDir: folder });
    const errors: string[] = [];
    const writer = new BatchWriter({ client, database: 'gatehouse', spool: new DiskSpool(join(folder, 'spool'), 10 * 1024 * 1024), flushIntervalMillis: 60_000, replayIntervalMillis: 60_000, insertTimeoutMillis: 300, onError: (error) => errors.push((error as Error).message) });
    try {
      writer.write('spans', [{ ...spanRow({ request_id: 'hung_1' }) }, { ...spanRow({ request_id: 'hung_2' }) }]);
      const started = Date.now();
      await writer.flush();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(received).toBe(1);
      expect(errors).toEqual([expect.stringMatching(/did not answer within 300 ms; batch spooled/)]);
      expect(writer.stats()).toMatchObject({ failedBatches: 1, spooledBatches: 1, writtenRows: 0 });
      const spooled = readdirSync(join(folder, 'spool')).map((name) => readFileSync(join(folder, 'spool', name), 'utf8')).join('');
      expect(spooled).toContain('hung_1');
      expect(spooled).toContain('hung_2');
    } finally {
      for (const response of held) response.destroy();
      await writer.shutdown().catch(() => undefined);
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 20_000);
});
