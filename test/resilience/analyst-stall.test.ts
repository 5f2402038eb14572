import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { TEST_ADMIN_TOKEN, TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild, type GatehouseChild } from './gatehouse-child.ts';

const price = { input: 1, cached_input: 0.1, output: 4 };
const policy = {
  models: { fast: { provider: 'openai', upstream: 'fast', price } },
  cost_centers: { platform: { allowed_models: ['fast'] } },
  keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
};

/** A scan the engine would need hours for: it stalls whatever connection it runs on until it is stopped. */
const STALL = 'SELECT sum(cityHash64(number)) FROM numbers(100000000000000)';
const DRAIN_TIMEOUT_MS = 5_000;

async function adminSql(gatehouse: GatehouseChild, query: string, signal?: AbortSignal): Promise<{ status: number; body: { rows?: Record<string, unknown>[]; error?: { code: string; message: string } } }> {
  const response = await request(`${gatehouse.url}/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }), ...(signal ? { signal } : {}) });
  return { status: response.statusCode, body: (await response.body.json()) as never };
}

/** A read on the gateway's own engine connection (the admin write path of /clickhouse), not an analyst slot. */
async function engineCount(gatehouse: GatehouseChild, query: string): Promise<number> {
  const response = await request(`${gatehouse.url}/clickhouse/?query=${encodeURIComponent(query)}`, { headers: { 'x-clickhouse-key': TEST_ADMIN_TOKEN } });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(text);
  return Number(text.trim());
}

/** Analyst queries the engine is running and has not cancelled (they carry a marker comment). */
function runningAnalystQueries(gatehouse: GatehouseChild): Promise<number> {
  return engineCount(gatehouse, "SELECT count() FROM system.processes WHERE startsWith(query, '/* gatehouse-analyst') AND NOT is_cancelled");
}

/** Re-checks `condition` until it holds (each check is a real round trip, not a timed wait). */
async function until(condition: () => Promise<boolean>, timeoutMillis: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; millis: number }> {
  const started = performance.now();
  const value = await run();
  return { value, millis: performance.now() - started };
}

describe('analysts cannot stall the engine', () => {
  let upstream: FakeResponsesUpstream;
  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'done' }], usage: { input_tokens: 10, output_tokens: 5 } }));
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it('two stalled analyst queries: every client turn keeps its span, /readyz and key creation answer within 1 s, SIGTERM exits within the drain timeout', async () => {
    const gatehouse = await startGatehouseChild({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy,
      extraConfig: {
        server: { host: '127.0.0.1', port: 0, drain_timeout_ms: DRAIN_TIMEOUT_MS },
        analyst_sql: { max_execution_seconds: 600, max_concurrent: 2, max_queue_wait_ms: 0 },
      },
    });
    try {
      // One at a time, each seen running in the engine before the next, so neither loses its slot to the other.
      const stalled = [adminSql(gatehouse, STALL)];
      await until(async () => (await runningAnalystQueries(gatehouse)) === 1, 20_000, 'the first analyst query to run');
      stalled.push(adminSql(gatehouse, STALL));
      await until(async () => (await runningAnalystQueries(gatehouse)) === 2, 20_000, 'the second analyst query to run');
      const busy = await adminSql(gatehouse, 'SELECT 1');
      expect(busy.status).toBe(429);
      expect(busy.body.error?.code).toBe('analyst_sql_busy');

      const turns = 12;
      const readyTimes: number[] = [];
      for (let turn = 0; turn < turns; turn += 1) {
        const response = await request(`${gatehouse.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', 'x-session-id': 'stall-session' }, body: JSON.stringify({ model: 'fast', input: `turn ${turn}` }) });
        await response.body.arrayBuffer();
        expect(response.statusCode).toBe(200);
        const ready = await timed(async () => (await request(`${gatehouse.url}/readyz`)).statusCode);
        expect(ready.value).toBe(200);
        readyTimes.push(ready.millis);
      }
      expect(Math.max(...readyTimes), `readyz times ${readyTimes.map((ms) => ms.toFixed(0)).join(', ')} ms`).toBeLessThan(1_000);
      const created = await timed(() => request(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ developer: 'bob', cost_center: 'platform' }) }));
      expect(created.value.statusCode).toBe(201);
      await created.value.body.arrayBuffer();
      expect(created.millis).toBeLessThan(1_000);
      // The spans were written (batch writer, ~1 s) while both analyst queries still ran.
      await until(async () => (await engineCount(gatehouse, "SELECT count() FROM gatehouse.spans WHERE session_id = 'stall-session'")) === turns, 15_000, `${turns} spans`);
      expect(await runningAnalystQueries(gatehouse)).toBe(2);

      const started = Date.now();
      gatehouse.child.kill('SIGTERM');
      const exit = await gatehouse.exited;
      expect(Date.now() - started, gatehouse.output()).toBeLessThan(DRAIN_TIMEOUT_MS);
      expect(exit.code, gatehouse.output()).toBe(0);
      for (const answer of await Promise.all(stalled)) {
        expect(answer.status).toBe(400);
        expect(answer.body.error?.message).toMatch(/cancelled/);
      }
    } finally {
      await gatehouse.stop();
    }
  }, 120_000);

  it('an analyst query whose client goes away is cancelled in the engine, and its slot is free again', async () => {
    const gatehouse = await startGatehouseChild({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy,
      extraConfig: { analyst_sql: { max_execution_seconds: 600, max_concurrent: 1, max_queue_wait_ms: 0 } },
    });
    try {
      const leaving = new AbortController();
      const abandoned = adminSql(gatehouse, STALL, leaving.signal).catch((error: unknown) => error);
      await until(async () => (await runningAnalystQueries(gatehouse)) === 1, 20_000, 'the analyst query to run');
      leaving.abort();
      await abandoned;
      // The engine marks it cancelled and stops computing (chDB keeps the entry listed until the connection's next query).
      await until(async () => (await runningAnalystQueries(gatehouse)) === 0, 10_000, 'the engine to cancel the query');
      await until(async () => (await adminSql(gatehouse, 'SELECT 1 AS one')).status === 200, 10_000, 'the slot to be free');
    } finally {
      await gatehouse.stop();
    }
  }, 60_000);
});
