import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { Redis } from 'ioredis';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { TEST_ADMIN_TOKEN, TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild, type GatehouseChild } from './gatehouse-child.ts';

const SESSIONS = 1_000;
/**
 * The target: a gateway process holding 1,000 concurrent streams peaks at ≤ 200 MB RSS. Round 2's added
 * code had moved the peak to 188–212 MB (a 210 MB bound then failed CI at 211.7 MB). Since the launcher serves the
 * TypeScript sources already stripped (bin/stripped-sources.mjs), no server process loads Node's type stripper
 * (~18 MB): the peak measures 173–197 MB (19 runs, nine of them full CI runs on a slow machine: 176–197; baseline
 * 111 MB), the target met in every run. The peak comes when the 1,000 answers end together (their spans and
 * evaluator hand-offs in one burst), and V8's collection timing moves it by up to ~20 MB from run to run: the bound
 * stays 5 % over the target, so the test still fails on a real leak without failing on the spread.
 */
const GATEWAY_PEAK_RSS_MB = 210;
/**
 * Embedded (all roles, chDB in-process): the process starts at ~330 MB before any request (≈235 MB
 * of it the mapped ClickHouse library), so the whole-process number is reported, and what the
 * streams add is held to this bound.
 */
const STREAMS_RSS_BUDGET_MB = 200;
/**
 * 24-40 s per run on the shared 2-core machine; 137 s (distributed) and 57 s (embedded) with a CPU hog
 * (`node -e 'for(;;){}'`) and the npm-install test beside it at load 25-31, all 1,000 open at once and
 * the gateway peaking at 184 MB: the barrier waits for the slowest stream to open, nothing is timed.
 */
const STREAMS_TIMEOUT_MILLIS = 240_000;
/** Starting the children under that load (chDB's first open, migrations) took over a minute once. */
const START_TIMEOUT_MILLIS = 180_000;

const PROVIDERS = (upstreamUrl: string) => ({
  // The default per-target limit (256) would send the rest down the chain: raise it for this load.
  openai: { type: 'openai', base_url: upstreamUrl, api_key: 'sk_test', max_concurrency: 2_000 },
});
/**
 * The barrier keeps every stream idle after its first event until the last one opens: on a loaded
 * machine that can outlast the default idle (120 s) and first-byte (60 s) timeouts.
 */
const TIMEOUTS = { connect_ms: 30_000, first_byte_ms: 200_000, idle_ms: 600_000, total_ms: 900_000 };
const POLICY = {
  models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 4 } } },
  cost_centers: { platform: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1_000 } } } },
  keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
};
const text = Array.from({ length: 16 }, (_, index) => `token${index}`).join(' ');

/**
 * Opens when every stream is open at the client (or one failed, so the test reports instead of
 * hanging). The fake upstream sends each answer's headers and first event, then waits here: all
 * 1,000 streams are open at once by construction, however loaded the machine, instead of by
 * timing (a loaded run once saw 797 of them open together).
 */
class StreamsBarrier {
  private release!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  private open = 0;
  streamOpened(): void {
    this.open += 1;
    if (this.open === SESSIONS) this.release();
  }
  streamFailed(): void {
    this.release();
  }
}

let barrier = new StreamsBarrier();
const startUpstream = () =>
  startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text }], usage: { input_tokens: 200, output_tokens: 16 }, holdAfterFirstEvent: barrier.opened, eventDelayMillis: 200 }));

interface StreamsRun {
  completed: number;
  peakOpen: number;
  seconds: number;
  baseline: ReturnType<GatehouseChild['memory']>;
  after: ReturnType<GatehouseChild['memory']>;
  peakAnonKb: number;
}

/** 1,000 concurrent streams of 22 events each through `gatehouse`, all open before any goes past its first event, sampling its RSS. */
async function runStreams(gatehouse: GatehouseChild, label: string): Promise<StreamsRun> {
  barrier = new StreamsBarrier();
  const client = new Agent({ connections: SESSIONS + 10, pipelining: 1, headersTimeout: 200_000, bodyTimeout: 600_000 });
  const baseline = gatehouse.memory();
  let peakAnonKb = baseline.anonKb;
  const sampler = setInterval(() => (peakAnonKb = Math.max(peakAnonKb, gatehouse.memory().anonKb)), 20);
  const started = performance.now();
  let open = 0;
  let peakOpen = 0;
  try {
    const results = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, index) => {
        try {
          const response = await request(`${gatehouse.url}/v1/responses`, {
            method: 'POST',
            dispatcher: client,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'session-id': `stream-${index}` },
            body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: `session ${index}: stream me something` }] }], stream: true }),
          });
          if (response.statusCode !== 200) barrier.streamFailed();
          open++;
          peakOpen = Math.max(peakOpen, open);
          barrier.streamOpened();
          const body = await response.body.text();
          open--;
          return response.statusCode === 200 && body.includes('event: response.completed') && body.includes('token15');
        } catch (error) {
          barrier.streamFailed();
          throw error;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = gatehouse.memory();
    const mb = (kb: number) => (kb / 1024).toFixed(0);
    const completed = results.filter(Boolean).length;
    console.log(
      `[resilience] ${label}: ${SESSIONS} concurrent streams, ${completed} completed in ${seconds.toFixed(1)} s, ${peakOpen} open at once; RSS baseline ${mb(baseline.currentKb)} MB (peak so far ${mb(baseline.peakKb)}, anon ${mb(baseline.anonKb)}, file ${mb(baseline.fileKb)}), peak VmHWM ${mb(after.peakKb)} MB, peak anon ${mb(peakAnonKb)} MB, after ${mb(after.currentKb)} MB (anon ${mb(after.anonKb)}, file ${mb(after.fileKb)})`,
    );
    return { completed, peakOpen, seconds, baseline, after, peakAnonKb };
  } finally {
    clearInterval(sampler);
    await client.close();
  }
}

/**
 * The production shape: one role per process. A collector child owns the embedded engine (and its
 * /clickhouse endpoint); the gateway child reaches it over HTTP (chDB never loaded) and keeps budgets
 * and affinity in Redis (127.0.0.1:6379, a key prefix of its own, removed afterwards). The gateway's
 * whole-process peak RSS (VmHWM from /proc/<pid>/status) is what the issue bounds.
 */
describe('1,000 concurrent streaming sessions through a distributed gateway replica', () => {
  let upstream: FakeResponsesUpstream;
  let collector: GatehouseChild;
  let gateway: GatehouseChild;
  const prefix = `gh-streams-${randomUUID().slice(0, 8)}:`;
  const redisUrl = 'redis://127.0.0.1:6379';
  // Both processes sign and verify the same policy versions and audit chain: one system key.
  const shared = mkdtempSync(join(tmpdir(), 'gatehouse-streams-'));
  const systemKeyFile = join(shared, 'system-key.pem');

  beforeAll(async () => {
    upstream = await startUpstream();
    collector = await startGatehouseChild({ command: 'collector', timeoutMillis: START_TIMEOUT_MILLIS, providers: PROVIDERS(upstream.url), policy: POLICY, extraConfig: { timeouts: TIMEOUTS, clickhouse: { url: 'embedded' }, redis: { url: redisUrl, key_prefix: prefix }, system_key_file: systemKeyFile } });
    gateway = await startGatehouseChild({
      command: 'gateway',
      timeoutMillis: START_TIMEOUT_MILLIS,
      // The documented memory profile for replicas that must hold many streams in little memory.
      env: { GATEHOUSE_MEMORY_PROFILE: 'lean' },
      providers: PROVIDERS(upstream.url),
      policy: POLICY,
      extraConfig: {
        timeouts: TIMEOUTS,
        clickhouse: { url: `${collector.url}/clickhouse`, username: 'gatehouse', password: TEST_ADMIN_TOKEN },
        redis: { url: redisUrl, key_prefix: prefix },
        system_key_file: systemKeyFile,
      },
    });
  }, START_TIMEOUT_MILLIS * 2);
  afterAll(async () => {
    await gateway?.stop();
    await collector?.stop();
    await upstream?.close();
    rmSync(shared, { recursive: true, force: true });
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });

  it('all complete; the gateway process peaks at ≤ 210 MB RSS (target 200 MB)', async () => {
    const run = await runStreams(gateway, 'distributed gateway');
    expect(run.completed).toBe(SESSIONS);
    expect(run.peakOpen).toBe(SESSIONS);
    expect(upstream.requests).toHaveLength(SESSIONS);
    expect(run.after.peakKb / 1024).toBeLessThanOrEqual(GATEWAY_PEAK_RSS_MB);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  }, STREAMS_TIMEOUT_MILLIS);
});

/**
 * All roles in one process (`node bin/gatehouse.mjs start`, embedded chDB): whole-process peak
 * reported, the increment the streams cause bounded.
 */
describe('1,000 concurrent streaming sessions through an embedded all-in-one process', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: GatehouseChild;

  beforeAll(async () => {
    upstream = await startUpstream();
    gatehouse = await startGatehouseChild({ providers: PROVIDERS(upstream.url), policy: POLICY, extraConfig: { timeouts: TIMEOUTS }, timeoutMillis: START_TIMEOUT_MILLIS });
  }, START_TIMEOUT_MILLIS * 2);
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('all complete; the streams add at most 200 MB to the process RSS (whole-process peak reported)', async () => {
    const run = await runStreams(gatehouse, 'embedded all-in-one');
    expect(run.completed).toBe(SESSIONS);
    expect(run.peakOpen).toBe(SESSIONS);
    expect(upstream.requests).toHaveLength(SESSIONS);
    expect((run.after.peakKb - run.baseline.currentKb) / 1024).toBeLessThanOrEqual(STREAMS_RSS_BUDGET_MB);
    expect((await fetch(`${gatehouse.url}/healthz`)).status).toBe(200);
  }, STREAMS_TIMEOUT_MILLIS);
});
