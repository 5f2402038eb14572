import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, TEST_ADMIN_TOKEN, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const TOTAL = 1_000;
const CONCURRENCY = 16;
/** Every HOP_EVERY-th request has a failing primary and hops to Anthropic: an audit event during the outage. */
const HOP_EVERY = 10;

describe('ClickHouse unavailable during 1,000 requests', () => {
  let gatehouse: TestGatehouse;
  let openai: FakeResponsesUpstream;
  let anthropic: FakeUpstream;
  const client = new Agent({ connections: CONCURRENCY });
  const price = { input: 1, cached_input: 0.1, output: 4 };

  beforeAll(async () => {
    openai = await startFakeResponsesUpstream((body) => (body.model === 'flaky' ? { output: [], fail: { status: 503 } } : { output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 40, output_tokens: 4 } }));
    anthropic = await startFakeUpstream('anthropic');
    anthropic.push(...Array.from({ length: TOTAL / HOP_EVERY + 10 }, () => ({ text: 'fallback ok' })));
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: openai.url, api_key: 'sk_test' }, anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_test' } },
      policy: {
        models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price }, flaky: { provider: 'openai', upstream: 'flaky', price }, claude: { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price } },
        // The breaker would stop calling "flaky" after 5 failures; hops still happen (circuit_open), which is what we want to audit.
        cost_centers: { platform: { allowed_models: ['gpt-5.5', 'flaky', 'claude'], fallback: { flaky: ['claude'] } } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await openai?.close();
    await anthropic?.close();
    await client.close();
  });

  async function send(from: number, to: number, requestIds: string[]): Promise<void> {
    let next = from;
    const worker = async () => {
      while (next < to) {
        const index = next++;
        const model = index % HOP_EVERY === 0 ? 'flaky' : 'gpt-5.5';
        const response = await request(`${gatehouse.url}/v1/responses`, {
          method: 'POST',
          dispatcher: client,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': `ch-outage-${index}` },
          body: JSON.stringify({ model, input: `turn ${index}`, stream: true }),
        });
        const text = await response.body.text();
        expect(response.statusCode).toBe(200);
        expect(text).toContain('response.completed');
        requestIds.push(String(response.headers['x-gatehouse-request-id']));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }

  it('spools spans and audit events while the tables are gone and writes each exactly once, in order, when they return', async () => {
    const started = performance.now();
    const requestIds: string[] = [];
    const auditBefore = await waitForRows<{ n: number; last: number }>(gatehouse, 'SELECT count() AS n, max(seq) AS last FROM gatehouse.audit_log', 1);
    await send(0, 250, requestIds);

    await gatehouse.clickhouse.command({ query: 'DETACH TABLE gatehouse.spans' });
    await gatehouse.clickhouse.command({ query: 'DETACH TABLE gatehouse.audit_log' });
    await send(250, 750, requestIds);
    await gatehouse.context.tracing.forceFlush();
    await gatehouse.writer.flush();
    const spooled = readdirSync(join(gatehouse.dataDir, 'spool'));
    expect(spooled.some((name) => name.endsWith('-spans.json'))).toBe(true);
    expect(spooled.some((name) => name.endsWith('-audit_log.json'))).toBe(true);
    const ready = await fetch(`${gatehouse.url}/healthz`);
    expect(ready.status).toBe(200);

    await gatehouse.clickhouse.command({ query: 'ATTACH TABLE gatehouse.spans' });
    await gatehouse.clickhouse.command({ query: 'ATTACH TABLE gatehouse.audit_log' });
    await send(750, TOTAL, requestIds);
    expect(requestIds).toHaveLength(TOTAL);

    const counted = await waitForRows<{ n: number; unique: number }>(gatehouse, `SELECT count() AS n, uniqExact(request_id) AS unique FROM gatehouse.spans WHERE session_id LIKE 'ch-outage-%' HAVING n >= ${TOTAL}`, 1, 30_000);
    expect(counted[0]).toEqual({ n: TOTAL, unique: TOTAL });
    const stored = await gatehouse.clickhouse.query({ query: `SELECT request_id FROM gatehouse.spans WHERE session_id LIKE 'ch-outage-%'`, format: 'JSONEachRow' });
    expect(new Set((await stored.json<{ request_id: string }>()).map((row) => row.request_id))).toEqual(new Set(requestIds));
    expect(gatehouse.writer.spoolStats()).toMatchObject({ files: 0, droppedRows: 0 });
    expect(gatehouse.writer.stats().droppedRows).toBe(0);

    // Audit: one provider.hop per hopped request, sequence numbers contiguous, the chain verifies.
    const hops = await waitForRows<{ seq: number }>(gatehouse, `SELECT seq FROM gatehouse.audit_log WHERE action = 'provider.hop' ORDER BY seq`, TOTAL / HOP_EVERY);
    expect(hops).toHaveLength(TOTAL / HOP_EVERY);
    const all = await waitForRows<{ n: number; first: number; last: number; unique: number }>(gatehouse, 'SELECT count() AS n, min(seq) AS first, max(seq) AS last, uniqExact(seq) AS unique FROM gatehouse.audit_log', 1);
    expect(all[0]?.n).toBe(all[0]?.unique);
    expect(Number(all[0]?.last) - Number(all[0]?.first) + 1).toBe(Number(all[0]?.n));
    // The always-failing 'flaky' provider also opens its circuit breaker: those transitions are audited too (breaker.*).
    const breakerEvents = await waitForRows<{ n: number }>(gatehouse, "SELECT count() AS n FROM gatehouse.audit_log WHERE action LIKE 'breaker.%'", 1);
    expect(Number(all[0]?.n)).toBe(Number(auditBefore[0]?.n) + TOTAL / HOP_EVERY + Number(breakerEvents[0]?.n));
    const verify = await (await fetch(`${gatehouse.url}/admin/audit/verify`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).json();
    expect(verify).toMatchObject({ ok: true, firstBroken: null });
    console.log(`[resilience] ClickHouse outage: ${TOTAL} requests (${CONCURRENCY} concurrent, ${TOTAL / HOP_EVERY} cross-provider hops) in ${((performance.now() - started) / 1000).toFixed(1)} s; spool peak ${spooled.length} files`);
  });
});
