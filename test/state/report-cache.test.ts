import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { main } from '../../cli/main.ts';
import type { CliIo } from '../../cli/cli-io.ts';

const database = 'gatehouse'; // a private chDB data dir: the report's default database name
const TOKEN = 'analyst-token-0123456789';
let dataDir: string;
let client: ClickHouseClient;
let admin: FastifyInstance;
let url: string;

const models = {
  'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } },
  'claude-sonnet': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 3, cached_input: 0.3, output: 15 } },
};

/** Stand-in for the gateway's admin API: /admin/sql runs read-only against chDB like the real route. */
async function startAdmin(): Promise<void> {
  admin = Fastify();
  admin.addHook('onRequest', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return reply.code(401).send({ error: { message: 'bad token' } });
  });
  admin.post<{ Body: { query: string } }>('/admin/sql', async (request, reply) => {
    try {
      const result = await client.query({ query: request.body.query, format: 'JSONEachRow', clickhouse_settings: { readonly: '2' } });
      return { rows: await result.json() };
    } catch (error) {
      return reply.code(400).send({ error: { message: (error as Error).message } });
    }
  });
  admin.get('/admin/policy', async () => ({ version: 3, document: { models } }));
  await admin.listen({ host: '127.0.0.1', port: 0 });
  const address = admin.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
}

function span(session: string, developer: string, repo: string, model: string, input: number, cached: number, cost: number, ts: string) {
  return {
    ts,
    request_id: `${session}-${ts}`,
    session_id: session,
    developer,
    repo,
    cost_center: 'platform',
    served_model: model,
    input_tokens: input,
    cached_input_tokens: cached,
    output_tokens: 100,
    cost_usd: cost,
    status_code: 200,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-report-'));
  client = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(client, database);
  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  const day = (daysAgo: number) => new Date(now - daysAgo * 86_400_000).toISOString();
  await client.insert({
    table: `${database}.spans`,
    values: [
      // s-bad: 3 turns, 10% hit rate, two models.
      span('s-bad', 'alice', 'api', 'gpt-5.5', 100_000, 0, 0.2, at(30)),
      span('s-bad', 'alice', 'api', 'gpt-5.5', 100_000, 10_000, 0.2, at(20)),
      span('s-bad', 'alice', 'api', 'claude-sonnet', 100_000, 20_000, 0.3, at(10)),
      // s-good: 90% hit rate.
      span('s-good', 'bob', 'web', 'gpt-5.5', 100_000, 90_000, 0.05, at(5)),
      // s-mid: 40% hit rate, one model.
      span('s-mid', 'carol', 'web', 'gpt-5.5', 50_000, 20_000, 0.05, at(3)),
      // s-small: below threshold but too few tokens to matter.
      span('s-small', 'dave', 'api', 'gpt-5.5', 500, 0, 0.001, at(2)),
      // s-old: outside the 7-day window.
      span('s-old', 'erin', 'api', 'gpt-5.5', 100_000, 0, 0.1, day(10)),
    ],
    format: 'JSONEachRow',
  });
  await startAdmin();
});

afterAll(async () => {
  await admin?.close();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function captureIo() {
  const out: string[] = [];
  const error: string[] = [];
  const io: CliIo = { out: (text) => void out.push(text), error: (text) => void error.push(text) };
  return { io, out, error };
}

describe('views 0030', () => {
  it('cache_hit_rate_daily, cache_hit_rate_by_session and cost_by_cost_center_daily answer', async () => {
    const daily = await (
      await client.query({ query: `SELECT developer, repo, requests, input_tokens, cached_input_tokens, hit_rate FROM ${database}.cache_hit_rate_daily WHERE developer = 'alice'`, format: 'JSONEachRow' })
    ).json<Record<string, unknown>>();
    expect(daily).toHaveLength(1);
    // 64-bit integers come back as numbers from chDB and as strings from a server: compare as numbers.
    const numeric = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value]));
    expect(numeric(daily[0]!)).toEqual({ developer: 'alice', repo: 'api', requests: 3, input_tokens: 300000, cached_input_tokens: 30000, hit_rate: 0.1 });
    const session = await (
      await client.query({ query: `SELECT turns, hit_rate, uncached_tokens_by_model FROM ${database}.cache_hit_rate_by_session WHERE session_id = 's-bad'`, format: 'JSONEachRow' })
    ).json<Record<string, unknown>>();
    expect(session.map(numeric)).toEqual([{ turns: 3, hit_rate: 0.1, uncached_tokens_by_model: expect.anything() }]);
    expect(numeric(session[0]!.uncached_tokens_by_model as Record<string, unknown>)).toEqual({ 'gpt-5.5': 190000, 'claude-sonnet': 80000 });
    const cost = await (
      await client.query({ query: `SELECT sum(requests) AS requests, round(sum(cost_usd), 6) AS cost FROM ${database}.cost_by_cost_center_daily WHERE cost_center = 'platform'`, format: 'JSONEachRow' })
    ).json<Record<string, unknown>>();
    expect(cost.map(numeric)).toEqual([{ requests: 7, cost: 0.901 }]);
  });
});

describe('gatehouse report cache', () => {
  it('lists the sessions below the threshold with what their misses cost above the cached price', async () => {
    const { io, out, error } = captureIo();
    const code = await main(['report', 'cache', '--below', '0.5', '--url', url, '--token', TOKEN], io);
    expect(error).toEqual([]);
    expect(code).toBe(0);
    const text = out.join('\n');
    // s-bad: 190,000 gpt-5.5 misses × $1.125/M + 80,000 claude misses × $2.70/M = $0.21375 + $0.216 = $0.42975
    expect(text).toContain('s-bad');
    expect(text).toContain('$0.4298');
    // s-mid: 30,000 × $1.125/M = $0.03375
    expect(text).toContain('s-mid');
    expect(text).toContain('$0.0338');
    expect(text).not.toContain('s-good');
    expect(text).not.toContain('s-small');
    expect(text).not.toContain('s-old');
    expect(text.indexOf('s-bad')).toBeLessThan(text.indexOf('s-mid'));
    expect(text).toContain('2 session(s) below 50.0% hit rate in the last 7 day(s): $0.7500 spent, $0.4635 of it paid for cache misses');
  });

  it('--json, filters, and clear errors', async () => {
    const { io, out, error } = captureIo();
    process.env.GATEHOUSE_URL = url;
    process.env.GATEHOUSE_TOKEN = TOKEN;
    try {
      expect(await main(['report', 'cache', '--below', '0.95', '--developer', "bob' OR 1=1 --", '--json'], io)).toBe(0);
      expect(JSON.parse(out.pop()!)).toEqual([]);
      expect(await main(['report', 'cache', '--below', '0.95', '--developer', 'bob', '--json'], io)).toBe(0);
      const [bob] = JSON.parse(out.pop()!);
      expect(bob).toMatchObject({ session_id: 's-good', hit_rate: 0.9, extra_usd: 0.01125, turns: 1 });
    } finally {
      delete process.env.GATEHOUSE_URL;
      delete process.env.GATEHOUSE_TOKEN;
    }
    // Through the CLI's entry: a usage error exits 2, a refused request 1, each with its message once prefixed.
    expect(await main(['report', 'cache', '--below', 'lots', '--url', url, '--token', TOKEN], io)).toBe(2);
    expect(error.pop()).toMatch(/^gatehouse: --below must be a number/);
    expect(await main(['report', 'cache', '--url', url, '--token', 'wrong-token-000000000'], io)).toBe(1);
    expect(error.pop()).toMatch(/^gatehouse: .*HTTP 401/);
  });
});
