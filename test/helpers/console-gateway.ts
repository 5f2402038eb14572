import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { ClickHouseClient } from '@clickhouse/client';
import { startGatehouse, type RunningGatehouse } from '../../cli/start-gatehouse.ts';
import { generateEd25519KeyPair } from '../../shared/signing/ed25519.ts';

export const CONSOLE_DIST = resolve(import.meta.dirname, '../../console/dist');

export interface ConsoleGateway {
  url: string;
  running: RunningGatehouse;
  clickhouse: ClickHouseClient;
  database: string;
  tokens: { admin: string; approver: string; analyst: string };
  approver: { id: string; privateKeyPem: string };
  /** What the seed wrote, for assertions: today's spend per cost center. */
  seeded: { todaySpendByCenter: Record<string, number>; quality: Record<string, Record<string, number>>; spans: number; hops: number; dryRunTurns: number };
  close(): Promise<void>;
}

const MODELS = {
  'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } },
  'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
  'claude-sonnet-4.5': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 3, cached_input: 0.3, output: 15 } },
};

/** Id of the routing rule the seeded traffic ran in dry run (the optimizer proposal in the tests adds it). */
export const DRY_RUN_RULE_ID = 'opt-platform-gpt-5.5-under-8k';

/** A deterministic pseudo-random sequence so the seeded data (and the screenshots) repeat. */
function sequence(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function isoAt(daysAgo: number, hour: number, minute: number): string {
  const now = new Date();
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - daysAgo * 86_400_000;
  // Today's rows stay in the past so "today" queries see them.
  const latest = daysAgo === 0 ? Math.max(0, now.getUTCHours() * 60 + now.getUTCMinutes() - 1) : 24 * 60 - 1;
  const minutes = Math.min(hour * 60 + minute, latest);
  return new Date(day + minutes * 60_000).toISOString();
}

/** Turns spread over 21 days, two cost centers, five developers, three models, some fallback hops. */
function seedRows(): { spans: Record<string, unknown>[]; scores: Record<string, unknown>[]; attempts: Record<string, unknown>[]; todaySpendByCenter: Record<string, number>; hops: number; quality: Record<string, Record<string, number>> } {
  const random = sequence(7);
  const developers = [
    ['alice', 'platform'],
    ['bob', 'platform'],
    ['carol', 'platform'],
    ['dave', 'research'],
    ['erin', 'research'],
  ] as const;
  const spans: Record<string, unknown>[] = [];
  const scores: Record<string, unknown>[] = [];
  const attempts: Record<string, unknown>[] = [];
  const todaySpendByCenter: Record<string, number> = {};
  let hops = 0;
  let counter = 0;
  const qualitySums: { developer: string; costCenter: string; scorer: string; value: number; dryRun: boolean }[] = [];
  for (let daysAgo = 20; daysAgo >= 0; daysAgo -= 1) {
    for (const [developer, costCenter] of developers) {
      const turns = 3 + Math.floor(random() * 5);
      for (let turn = 0; turn < turns; turn += 1) {
        counter += 1;
        const model = random() < 0.55 ? 'gpt-5.5' : random() < 0.6 ? 'gpt-5.1-mini' : 'claude-sonnet-4.5';
        const hop = model === 'claude-sonnet-4.5' && random() < 0.5;
        // The optimizer's candidate rule ran in dry run on platform's gpt-5.5 turns of the last week.
        const dryRunRule = costCenter === 'platform' && model === 'gpt-5.5' && daysAgo < 7 ? DRY_RUN_RULE_ID : '';
        const price = MODELS[model].price;
        const input = 4000 + Math.floor(random() * 60_000);
        const cached = Math.floor(input * (developer === 'erin' ? 0.15 : 0.45 + random() * 0.4));
        const output = 200 + Math.floor(random() * 3000);
        const cost = ((input - cached) * price.input + cached * price.cached_input + output * price.output) / 1_000_000;
        const ts = isoAt(daysAgo, 8 + Math.floor(random() * 10), Math.floor(random() * 60));
        const requestId = `req_seed_${counter.toString().padStart(5, '0')}`;
        const sessionId = `sess_${developer}_${daysAgo}`;
        if (daysAgo === 0) todaySpendByCenter[costCenter] = (todaySpendByCenter[costCenter] ?? 0) + cost;
        if (hop) hops += 1;
        spans.push({
          ts,
          request_id: requestId,
          session_id: sessionId,
          turn_id: `${sessionId}:${turn}`,
          turn_seq: turn,
          developer,
          cost_center: costCenter,
          repo: developer === 'dave' || developer === 'erin' ? 'github.com/acme/models' : 'github.com/acme/platform',
          key_id: `key_${developer}`,
          requested_model: hop ? 'gpt-5.5' : model,
          served_model: model,
          provider: MODELS[model].provider,
          provider_type: MODELS[model].provider,
          inbound_protocol: 'openai-responses',
          stream: true,
          status_code: 200,
          input_tokens: input,
          cached_input_tokens: cached,
          output_tokens: output,
          cost_usd: cost,
          budget_stage: 'ok',
          fallback_from: hop ? 'gpt-5.5' : '',
          hop_reason: hop ? (random() < 0.5 ? 'upstream_429' : 'upstream_timeout') : '',
          policy_version: 1,
          rule_id: dryRunRule,
          rule_dry_run: dryRunRule !== '',
          duration_ms: 800 + random() * 9000,
          ttfb_ms: 200 + random() * 900,
          client: 'codex_cli_rs',
        });
        if (hop) {
          attempts.push({ ts, request_id: requestId, model: 'gpt-5.5', provider: 'openai', status_code: 429, error_code: 'upstream_rate_limited', hop_reason: 'upstream_429', duration_ms: 120 });
          attempts.push({ ts: new Date(Date.parse(ts) + 250).toISOString(), request_id: requestId, model, provider: MODELS[model].provider, status_code: 200, duration_ms: 4000 });
        }
        // Code correctness is a session score (one per session, empty request id); erin's sessions score low.
        if (turn === 0) {
          const value = developer === 'erin' ? 0.5 : 0.9;
          scores.push({ ts, session_id: sessionId, turn_id: '', request_id: '', level: 'session', scorer: 'code_correctness', scorer_version: 1, value, served_model: model, provider: MODELS[model].provider, cost_center: costCenter, developer, policy_version: 1, rule_id: '', dry_run: false, scored_at: ts });
          qualitySums.push({ developer, costCenter, scorer: 'code_correctness', value, dryRun: false });
        }
        for (const scorer of ['tool_call_validity', 'task_completion', 'tool_use_accuracy']) {
          const base = model === 'gpt-5.1-mini' ? 0.78 : model === 'claude-sonnet-4.5' ? 0.86 : 0.9;
          scores.push({
            ts,
            session_id: sessionId,
            turn_id: `${sessionId}:${turn}`,
            request_id: requestId,
            level: 'turn',
            scorer,
            scorer_version: 1,
            value: Math.min(1, Math.max(0, base + (random() - 0.5) * 0.2)),
            served_model: model,
            provider: MODELS[model].provider,
            cost_center: costCenter,
            developer,
            policy_version: 1,
            rule_id: dryRunRule,
            dry_run: dryRunRule !== '',
            scored_at: ts,
          });
          qualitySums.push({ developer, costCenter, scorer, value: scores.at(-1)?.value as number, dryRun: dryRunRule !== '' });
        }
      }
    }
  }
  return { spans, scores, attempts, todaySpendByCenter, hops, quality: averageScores(qualitySums) };
}

/** Mean score per developer and per cost center (non-dry-run), what the console's quality tables show. */
function averageScores(rows: { developer: string; costCenter: string; scorer: string; value: number; dryRun: boolean }[]): Record<string, Record<string, number>> {
  const sums: Record<string, Record<string, [number, number]>> = {};
  for (const row of rows.filter((item) => !item.dryRun)) {
    for (const name of [row.developer, row.costCenter]) {
      const cell = ((sums[name] ??= {})[row.scorer] ??= [0, 0]);
      cell[0] += row.value;
      cell[1] += 1;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([name, scorers]) => [name, Object.fromEntries(Object.entries(scorers).map(([scorer, [sum, n]]) => [scorer, sum / n]))]));
}

/**
 * Starts the embedded Gatehouse (cli/start-gatehouse.ts, gateway and collector roles) on 127.0.0.1
 * with admin, approver and analyst tokens, an Ed25519 approver in the policy and three weeks of
 * seeded traffic written straight into ClickHouse.
 */
export async function startConsoleGateway(): Promise<ConsoleGateway> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
  const approverKeys = generateEd25519KeyPair();
  const tokens = { admin: 'console-test-admin-token-0001', approver: 'console-test-approver-token-01', analyst: 'console-test-analyst-token-001' };
  const policy = {
    models: MODELS,
    cost_centers: {
      platform: {
        allowed_models: ['gpt-5.5', 'gpt-5.1-mini', 'claude-sonnet-4.5'],
        budgets: { developer: { daily_usd: 0.3, monthly_usd: 4 }, cost_center: { daily_usd: 0.8, monthly_usd: 14 } },
        fallback: { 'gpt-5.5': ['claude-sonnet-4.5'] },
      },
      research: {
        allowed_models: ['gpt-5.5', 'gpt-5.1-mini', 'claude-sonnet-4.5'],
        // A budget far above the spend (the issue's $2,000 vs $0.19): the chart must not flatten the spend line.
        budgets: { developer: { daily_usd: 0.35, monthly_usd: 6 }, cost_center: { daily_usd: 2000, monthly_usd: 40_000 } },
      },
    },
    keys: [{ key: 'vk_console_alice', developer: 'alice', cost_center: 'platform' }],
    approvers: [{ id: 'dana', public_key: approverKeys.publicKeyPem, scopes: ['*'] }],
  };
  writeFileSync(join(directory, 'policy.yaml'), stringify(policy));
  writeFileSync(
    join(directory, 'gatehouse.yaml'),
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      data_dir: join(directory, 'data'),
      admin: {
        tokens: [
          { name: 'console-admin', role: 'admin', token: tokens.admin },
          { name: 'dana', role: 'approver', token: tokens.approver },
          { name: 'ana-lyst', role: 'analyst', token: tokens.analyst },
        ],
      },
      providers: {
        openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' },
        anthropic: { type: 'anthropic', base_url: 'http://127.0.0.1:9', api_key: 'sk_test' },
      },
      policy: 'policy.yaml',
      logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
    }),
  );
  // The real embedded start: governance, console and OTLP intake are wired by cli/start-gatehouse.ts.
  const running = await startGatehouse({ configFile: join(directory, 'gatehouse.yaml'), environment: {}, roles: ['gateway', 'collector'] });
  const { clickhouse, url } = running;
  const database = running.config.clickhouse.database;

  const seed = seedRows();
  const insert = (table: string, values: Record<string, unknown>[]) =>
    clickhouse.insert({ table: `${database}.${table}`, values, format: 'JSONEachRow', clickhouse_settings: { date_time_input_format: 'best_effort' } });
  await insert('spans', seed.spans);
  await insert('eval_scores', seed.scores);
  await insert('upstream_attempts', seed.attempts);

  return {
    url,
    running,
    clickhouse,
    database,
    tokens,
    approver: { id: 'dana', privateKeyPem: approverKeys.privateKeyPem },
    seeded: { todaySpendByCenter: seed.todaySpendByCenter, quality: seed.quality, spans: seed.spans.length, hops: seed.hops, dryRunTurns: seed.spans.filter((span) => span.rule_dry_run).length },
    async close() {
      await running.close();
      if (existsSync(directory)) rmSync(directory, { recursive: true, force: true });
    },
  };
}
