import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { DEFAULT_ANALYST_LIMITS, type AnalystSql } from '../../shared/clickhouse/analyst-sql.ts';
import { createEmbeddedAnalystSql } from '../../shared/clickhouse/embedded-analyst-sql.ts';

const DOC = readFileSync(resolve(import.meta.dirname, '../../docs/ANALYSTS.md'), 'utf8');
const QUERIES = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => (match[1] ?? '').trim());

let dataDir: string;
let clickhouse: ClickHouseClient;
let analystSql: AnalystSql;

/** Runs a query the way an analyst's does: through the gate, on the analyst connections, as JSON rows. */
async function asAnalyst(query: string): Promise<Record<string, unknown>[]> {
  // The doc marks the one example on key hashes (`virtual_keys`) as admin-only.
  const role = query.includes('gatehouse.virtual_keys') ? 'admin' : 'analyst';
  const answer = await analystSql.run({ sql: query, role, format: 'JSONEachRow', allowFormatClause: false });
  const text = answer.body.toString('utf8').trim();
  return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-analysts-'));
  clickhouse = await createClickHouse({ url: 'embedded', database: 'gatehouse', dataDir });
  await migrate(clickhouse, 'gatehouse');
  analystSql = createEmbeddedAnalystSql({ path: join(dataDir, 'clickhouse'), database: 'gatehouse', limits: DEFAULT_ANALYST_LIMITS });
  const now = new Date().toISOString();
  await clickhouse.insert({
    table: 'gatehouse.spans',
    values: [
      { ts: now, request_id: 'r1', trace_id: 't1', session_id: 's1', developer: 'alice', cost_center: 'platform', key_id: 'k1', requested_model: 'gpt-5.5', served_model: 'gpt-5.5', provider: 'openai', status_code: 200, input_tokens: 1000, cached_input_tokens: 600, cost_usd: 0.5, policy_version: 1 },
      { ts: now, request_id: 'r2', trace_id: 't2', session_id: 's1', developer: 'alice', cost_center: 'platform', key_id: 'k1', requested_model: 'gpt-5.5', served_model: 'claude-sonnet-4.5', provider: 'anthropic', fallback_from: 'gpt-5.5', hop_reason: 'upstream_429', status_code: 200, input_tokens: 2000, cost_usd: 1.5, policy_version: 1 },
    ],
    format: 'JSONEachRow',
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
  await clickhouse.insert({
    table: 'gatehouse.eval_scores',
    values: [{ ts: now, session_id: 's1', request_id: '', level: 'session', scorer: 'task_completion', value: 1, served_model: 'gpt-5.5', cost_center: 'platform', scored_at: now }],
    format: 'JSONEachRow',
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
  await clickhouse.insert({
    table: 'gatehouse.policy_versions',
    values: [{ version: 1, hash: 'h1', document: JSON.stringify({ cost_centers: { platform: { budgets: { cost_center: { monthly_usd: 100 } } } } }), status: 'active', created_at: now, updated_at: now }],
    format: 'JSONEachRow',
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
});

afterAll(async () => {
  await analystSql?.close();
  await clickhouse?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('docs/ANALYSTS.md', () => {
  it('documents every table and view of the database', async () => {
    const result = await clickhouse.query({ query: "SELECT name FROM system.tables WHERE database = 'gatehouse' ORDER BY name", format: 'JSONEachRow' });
    const names = (await result.json<{ name: string }>()).map((row) => row.name);
    expect(names.length).toBeGreaterThan(10);
    const undocumented = names.filter((name) => !DOC.includes(`\`${name}\``));
    expect(undocumented, 'add a section or a views-table row to docs/ANALYSTS.md').toEqual([]);
  });

  it('has example queries that an analyst token may run (through the analyst gate and limits)', async () => {
    expect(QUERIES.length).toBeGreaterThanOrEqual(15);
    for (const query of QUERIES) {
      try {
        await asAnalyst(query);
      } catch (error) {
        throw new Error(`query failed: ${(error as Error).message}\n${query}`);
      }
    }
  });

  it('answers the headline questions with the seeded rows', async () => {
    const run = async (heading: string) => {
      const section = DOC.slice(DOC.indexOf(heading));
      const query = /```sql\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
      return asAnalyst(query);
    };
    expect(await run('### Cost per cost center per day')).toEqual([expect.objectContaining({ cost_center: 'platform', spend_usd: 2, cache_hit_rate: 0.2 })]);
    expect(await run('### Month-to-date spend')).toEqual([expect.objectContaining({ cost_center: 'platform', monthly_budget_usd: 100, share_used: 0.02 })]);
    expect(await run('### Prompt-cache hit rate per developer')).toEqual([expect.objectContaining({ developer: 'alice', hit_rate: 0.2 })]);
    expect(await run('### Cross-provider hops')).toEqual([expect.objectContaining({ from_model: 'gpt-5.5', to_model: 'claude-sonnet-4.5', hops: 1 })]);
    const audit = await run('### The SOC 2 request audit');
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ policy_version: 1, policy_hash: 'h1' });
  });
});
