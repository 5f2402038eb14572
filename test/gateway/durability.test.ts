import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, TEST_ADMIN_TOKEN } from '../helpers/start-test-gatehouse.ts';

describe('spans survive restarts and ClickHouse outages', () => {
  let upstream: FakeResponsesUpstream;
  let dataDir: string;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 50, output_tokens: 5 } }));
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-durability-'));
  });
  afterAll(async () => {
    await upstream?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const providers = () => ({ openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } });
  const send = async (url: string, sessionId: string, count: number) => {
    for (let index = 0; index < count; index += 1) {
      const response = await request(`${url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': sessionId },
        body: JSON.stringify({ model: 'gpt-5.5', input: `turn ${index}`, stream: true }),
      });
      expect(response.statusCode).toBe(200);
      await response.body.arrayBuffer();
    }
  };
  const countRows = async (gatehouse: Awaited<ReturnType<typeof startTestGatehouse>>, sessionId: string) => {
    const result = await gatehouse.clickhouse.query({ query: `SELECT count() AS n, uniqExact(request_id) AS unique FROM gatehouse.spans WHERE session_id = '${sessionId}'`, format: 'JSONEachRow' });
    return (await result.json<{ n: number; unique: number }>())[0];
  };

  it('keeps spans written before a restart', async () => {
    const first = await startTestGatehouse({ providers: providers(), dataDir });
    await send(first.url, 'before-restart', 3);
    await first.stop({ keepData: true });
    const second = await startTestGatehouse({ providers: providers(), dataDir });
    expect(await countRows(second, 'before-restart')).toEqual({ n: 3, unique: 3 });
    await second.stop({ keepData: true });
  });

  it('keeps created and revoked keys across a restart (every insert lands, whatever ran before it)', async () => {
    const first = await startTestGatehouse({ providers: providers(), dataDir });
    await send(first.url, 'keys-before-restart', 2);
    await first.context.tracing.forceFlush();
    await first.writer.flush();
    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const kept = (await (await request(`${first.url}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ developer: 'kim', cost_center: 'platform' }) })).body.json()) as { id: string; key: string };
    const gone = (await (await request(`${first.url}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ developer: 'lee', cost_center: 'platform' }) })).body.json()) as { id: string; key: string };
    expect((await request(`${first.url}/admin/keys/${gone.id}`, { method: 'DELETE', headers: { authorization: admin.authorization } })).statusCode).toBe(200);
    await first.stop({ keepData: true });

    const second = await startTestGatehouse({ providers: providers(), dataDir });
    const use = (key: string) => request(`${second.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'gpt-5.5', input: 'hi' }) });
    const keptResponse = await use(kept.key);
    const goneResponse = await use(gone.key);
    await keptResponse.body.arrayBuffer();
    await goneResponse.body.arrayBuffer();
    expect(keptResponse.statusCode).toBe(200);
    expect(goneResponse.statusCode).toBe(401);
    await second.stop({ keepData: true });
  });

  it('spools spans while the spans table is unavailable and writes each exactly once when it returns', async () => {
    const gatehouse = await startTestGatehouse({ providers: providers(), dataDir });
    await gatehouse.clickhouse.command({ query: 'DETACH TABLE gatehouse.spans' });
    await send(gatehouse.url, 'during-outage', 40);
    await gatehouse.context.tracing.forceFlush();
    await gatehouse.writer.flush();
    expect(gatehouse.writer.spoolStats().files).toBeGreaterThan(0);
    expect(readdirSync(join(dataDir, 'spool')).some((name) => name.endsWith('-spans.json'))).toBe(true);

    await gatehouse.clickhouse.command({ query: 'ATTACH TABLE gatehouse.spans' });
    await send(gatehouse.url, 'during-outage', 10);
    const rows = await waitForRows<{ request_id: string }>(gatehouse, `SELECT request_id FROM gatehouse.spans WHERE session_id = 'during-outage'`, 50);
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((row) => row.request_id)).size).toBe(50);
    expect(gatehouse.writer.spoolStats().files).toBe(0);
    await gatehouse.stop({ keepData: true });
  });

  it('replays the spool after a restart when the outage outlived the process', async () => {
    const gatehouse = await startTestGatehouse({ providers: providers(), dataDir });
    await gatehouse.clickhouse.command({ query: 'DETACH TABLE gatehouse.spans' });
    await send(gatehouse.url, 'outage-then-restart', 5);
    await gatehouse.stop({ keepData: true });
    expect(readdirSync(join(dataDir, 'spool')).filter((name) => name.endsWith('.json')).length).toBeGreaterThan(0);

    const restarted = await startTestGatehouse({ providers: providers(), dataDir });
    const tables = await restarted.clickhouse.query({ query: `SELECT count() AS n FROM system.tables WHERE database = 'gatehouse' AND name = 'spans'`, format: 'JSONEachRow' });
    if ((await tables.json<{ n: number }>())[0]?.n === 0) await restarted.clickhouse.command({ query: 'ATTACH TABLE gatehouse.spans' });
    const rows = await waitForRows<{ request_id: string }>(restarted, `SELECT request_id FROM gatehouse.spans WHERE session_id = 'outage-then-restart'`, 5);
    expect(rows).toHaveLength(5);
    await restarted.stop({ keepData: true });
  });
});
