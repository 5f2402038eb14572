import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { OPTIMIZER_QUEUE, OPTIMIZER_RUN_JOB, OPTIMIZER_RUN_SCHEDULER_ID, ROLLBACK_GUARD_JOB, ROLLBACK_GUARD_SCHEDULER_ID } from '../../shared/queue/optimizer-queue.ts';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';

// Distributed mode with real processes on this machine: one process owns the embedded engine
// (collector role; ClickHouse-compatible endpoint at /clickhouse), two gateways and two evaluator
// workers reach it over HTTP like they would reach a ClickHouse server, and share Redis for
// budgets, affinity, policy hot-reload, the audit chain head and the BullMQ evaluation queue.
const ADMIN = 'distributed-admin-token-0123456789';
const PRICE = { input: 1.25, cached_input: 0.125, output: 10 };
const USAGE = { input_tokens: 1000, output_tokens: 100 };
const COST = (1000 * PRICE.input + 100 * PRICE.output) / 1e6; // $0.00225 per turn
const DAILY_BUDGET = COST * 10; // allows 10 turns; the pause stage (110%) admits at most 11

interface Running {
  name: string;
  child: ChildProcess;
  url: string;
  output: string[];
}

function startProcess(name: string, role: string, config: string): Promise<Running> {
  const child = spawn(process.execPath, ['bin/gatehouse.mjs', role, '--config', config], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    // Seven processes start on a shared 2-core machine: a process start under load took up to ~40 s.
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output.join('')}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /listening on (http:\/\/[0-9.:]+)/.exec(output.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ name, child, url: match[1], output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output.join('')}`));
    });
  });
}

async function sql<T>(url: string, query: string): Promise<T[]> {
  const response = await fetch(`${url}/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { rows: T[]; error?: { message: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body.rows;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMillis: number): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}

describe('distributed mode: two gateways, a collector, two evaluator workers and two optimizer replicas on real Redis', () => {
  let folder: string;
  let upstream: FakeResponsesUpstream;
  const processes: Running[] = [];
  const prefix = `gh-dist-${randomUUID().slice(0, 8)}:`;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-distributed-'));
    upstream = await startFakeResponsesUpstream((body) => {
      const input = (body.input as { type?: string }[]) ?? [];
      const answered = input.some((item) => item.type === 'function_call_output');
      return answered
        ? { output: [{ type: 'message', text: 'All tests pass.' }], usage: USAGE }
        : { output: [{ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: 'npm test' }) }], usage: USAGE };
    });
    writeFileSync(
      join(folder, 'policy.yaml'),
      stringify({
        // The model's output cap: what each admission reserves (no request here sets max_output_tokens).
        models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: PRICE, max_output_tokens: 100 } },
        cost_centers: { platform: { allowed_models: ['gpt-5.5'], budgets: { cost_center: { daily_usd: DAILY_BUDGET } } } },
        keys: [{ key: 'vk_distributed', developer: 'dana', cost_center: 'platform' }],
      }),
    );
    const base = (name: string, clickhouse: Record<string, unknown>) => {
      const file = join(folder, `${name}.yaml`);
      writeFileSync(
        file,
        stringify({
          server: { host: '127.0.0.1', port: 0 },
          data_dir: join(folder, name),
          clickhouse,
          redis: { url: 'redis://127.0.0.1:6379', key_prefix: prefix },
          admin: { tokens: [{ name: 'ops', role: 'admin', token: ADMIN }] },
          providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
          policy: 'policy.yaml',
          system_key_file: join(folder, 'system-key.pem'),
          evaluator: { session_idle_seconds: 1, concurrency: 4 },
          logging: { level: 'warn' },
        }),
      );
      return file;
    };
    const collector = await startProcess('collector', 'collector', base('collector', { url: 'embedded' }));
    processes.push(collector);
    const remote = { url: `${collector.url}/clickhouse`, username: 'gatehouse', password: ADMIN };
    processes.push(...(await Promise.all([startProcess('gateway-a', 'gateway', base('gateway-a', remote)), startProcess('gateway-b', 'gateway', base('gateway-b', remote))])));
    processes.push(...(await Promise.all([startProcess('evaluator-1', 'evaluator', base('evaluator-1', remote)), startProcess('evaluator-2', 'evaluator', base('evaluator-2', remote))])));
    processes.push(...(await Promise.all([startProcess('optimizer-1', 'optimizer', base('optimizer-1', remote)), startProcess('optimizer-2', 'optimizer', base('optimizer-2', remote))])));
  }, 300_000);

  afterAll(async () => {
    await Promise.all(
      processes.map(
        (running) =>
          new Promise<void>((resolve) => {
            if (running.child.exitCode !== null) return resolve();
            running.child.once('exit', () => resolve());
            running.child.kill('SIGTERM');
            setTimeout(() => running.child.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
    await upstream?.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    if (folder) rmSync(folder, { recursive: true, force: true });
  }, 60_000);

  it('holds one shared budget across both gateways and lands every span and score', async () => {
    const gateways = processes.filter((running) => running.name.startsWith('gateway'));
    const turn = async (index: number) => {
      const gateway = gateways[index % 2] as Running;
      const session = `dist-session-${index}`;
      const first = await fetch(`${gateway.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: 'Bearer vk_distributed', 'content-type': 'application/json', 'x-session-id': session },
        body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: `run the tests\n${'context '.repeat(500)}` }] }], tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }] }),
      });
      const body = (await first.json()) as { output?: { call_id: string }[]; error?: { code: string } };
      return { status: first.status, session, code: body.error?.code, callId: body.output?.[0]?.call_id };
    };
    const results = await Promise.all(Array.from({ length: 64 }, (_, index) => turn(index)));
    const served = results.filter((result) => result.status === 200);
    const paused = results.filter((result) => result.status === 429);
    expect(served.length + paused.length).toBe(64);
    expect(paused.every((result) => result.code === 'budget_exhausted')).toBe(true);
    // Reservations use a conservative input estimate, so a burst admits somewhat fewer than the budget allows.
    expect(served.length).toBeGreaterThanOrEqual(5);
    expect(served.length).toBeLessThanOrEqual(11);
    // Both gateways paused requests: each one saw the spend the other admitted.
    expect(new Set(paused.map((result) => Number(result.session.split('-').at(-1)) % 2)).size).toBe(2);

    const collector = processes[0] as Running;
    const spans = await until(() => sql<{ n: number; spend: number; errors: number }>(collector.url, `SELECT count() AS n, sum(cost_usd) AS spend, countIf(error_code = 'budget_exhausted') AS errors FROM gatehouse.spans WHERE session_id LIKE 'dist-session-%'`), (rows) => Number(rows[0]?.n) >= 64, 20_000);
    expect(Number(spans[0]?.n)).toBe(64);
    expect(Number(spans[0]?.errors)).toBe(paused.length);
    expect(Number(spans[0]?.spend)).toBeLessThanOrEqual(DAILY_BUDGET * 1.1 + 1e-9);
    expect(Number(spans[0]?.spend)).toBeCloseTo(served.length * COST, 9);

    // Every served session ends after the idle window and gets its session scores from the workers.
    const scored = await until(
      () => sql<{ sessions: number }>(collector.url, `SELECT uniqExact(session_id) AS sessions FROM gatehouse.eval_scores FINAL WHERE scorer = 'task_completion' AND session_id LIKE 'dist-session-%'`),
      (rows) => Number(rows[0]?.sessions) >= served.length,
      30_000,
    );
    expect(Number(scored[0]?.sessions)).toBeGreaterThanOrEqual(served.length);
    // Turn scores come from the other worker as often as from this one: each worker's batch writer flushes on its
    // own clock, so they may land after the session scores (a CI run read 4 of 8 right after them).
    const turnScores = await until(
      () => sql<{ n: number }>(collector.url, `SELECT count() AS n FROM gatehouse.eval_scores FINAL WHERE scorer = 'tool_call_validity' AND session_id LIKE 'dist-session-%'`),
      (rows) => Number(rows[0]?.n) >= served.length,
      30_000,
    );
    expect(Number(turnScores[0]?.n)).toBe(served.length);
  }, 120_000);

  it("lands the evaluator workers' spans: one per evaluation job, from the evaluator's own tracer provider", async () => {
    const collector = processes[0] as Running;
    const spans = await until(
      () => sql<{ service: string; name: string; n: number }>(collector.url, `SELECT service_name AS service, name, count() AS n FROM gatehouse.otel_spans WHERE service_name = 'gatehouse-evaluator' GROUP BY service, name ORDER BY name`),
      (rows) => rows.some((row) => row.name.includes('session')) && rows.some((row) => row.name.includes('turn')),
      30_000,
    );
    expect(spans.map((row) => row.name).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/^evaluate .*session/), expect.stringMatching(/^evaluate .*turn/)]));
    for (const row of spans) expect(Number(row.n)).toBeGreaterThan(0);
  }, 60_000);

  it('runs the optimizer as repeatable BullMQ jobs (one per cost center and the guard), one at a time across both replicas', async () => {
    const connection = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const queue = new Queue(OPTIMIZER_QUEUE, { connection, prefix: `${prefix}bull` });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((scheduler) => scheduler.key).sort()).toEqual([`${OPTIMIZER_RUN_SCHEDULER_ID}:platform`, ROLLBACK_GUARD_SCHEDULER_ID]);
      expect(await queue.getGlobalConcurrency()).toBe(1);
      // Every scheduler's first job runs at once: both replicas started, each job ran once, never two at a time.
      const completed = await until(() => queue.getCompleted(), (jobs) => new Set(jobs.map((job) => job.name)).size >= 2, 60_000);
      expect(new Set(completed.map((job) => job.name))).toEqual(new Set([OPTIMIZER_RUN_JOB, ROLLBACK_GUARD_JOB]));
      expect(completed.find((job) => job.name === OPTIMIZER_RUN_JOB)?.data).toMatchObject({ costCenter: 'platform' });
      const intervals = completed.map((job) => [Number(job.processedOn), Number(job.finishedOn)] as const).sort((a, b) => a[0] - b[0]);
      for (let index = 1; index < intervals.length; index += 1) expect(intervals[index]![0]).toBeGreaterThanOrEqual(intervals[index - 1]![1]);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 90_000);
});
