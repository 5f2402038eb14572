import type { Command } from 'commander';
import { adminRequest, adminTarget, CliError, type CliIo } from '../cli-io.ts';
import { addAdminOptions, addOutputOptions, type AdminOptions } from '../admin-client.ts';
import { formatTime, outputFormat, printRecords, type Column } from '../output.ts';

interface CacheReportOptions extends AdminOptions {
  below: string;
  days: string;
  limit: string;
  minInputTokens: string;
  developer?: string;
  costCenter?: string;
  database: string;
  json?: boolean;
  csv?: boolean;
}

/** `gatehouse report cache`: sessions whose prompt-cache hit rate is poor, and what that costs. */
export function registerReportCommand(program: Command, io: CliIo): void {
  const report = program.command('report').description('reports over the stored spans');
  addOutputOptions(
    addAdminOptions(
      report
        .command('cache')
        .description(
          'sessions whose prompt-cache hit rate is below --below, with what their cache misses cost above the cached price ' +
            '(uncached input tokens × (input − cached_input price) of the model that served them)',
        ),
    ),
    'sessions',
  )
    .option('--below <rate>', 'hit rate threshold, 0-1', '0.5')
    .option('--days <n>', 'look back this many days', '7')
    .option('--limit <n>', 'at most this many sessions', '20')
    .option('--min-input-tokens <n>', 'ignore sessions with fewer input tokens', '10000')
    .option('--developer <name>', 'only this developer')
    .option('--cost-center <name>', 'only this cost center')
    .option('--database <name>', 'ClickHouse database', 'gatehouse')
    .action((options: CacheReportOptions) => runCacheReport(options, io));
}

/** One session of the report. */
export interface CacheReportRow {
  session_id: string;
  developer: string;
  repo: string;
  cost_center: string;
  turns: number;
  input_tokens: number;
  cached_input_tokens: number;
  hit_rate: number;
  cost_usd: number;
  /** Uncached input tokens × (input − cached_input) per million, summed over served models; null when prices are unknown. */
  extra_usd: number | null;
  last_ts: string;
}

interface SessionRow {
  session_id: string;
  developer: string;
  repo: string;
  cost_center: string;
  turns: number | string;
  input_tokens: number | string;
  cached_input_tokens: number | string;
  hit_rate: number | string;
  cost_usd: number | string;
  uncached_tokens_by_model: Record<string, number | string> | null;
  last_seen: string;
}

interface ModelPrice {
  input: number;
  cached_input?: number | undefined;
}

async function runCacheReport(values: CacheReportOptions, io: CliIo): Promise<void> {
  const format = outputFormat(values);
  const below = numberOption('below', values.below, 0, 1);
  const days = numberOption('days', values.days, 1, 3660);
  const limit = Math.floor(numberOption('limit', values.limit, 1, 10_000));
  const minInput = Math.floor(numberOption('min-input-tokens', values.minInputTokens, 0, Number.MAX_SAFE_INTEGER));
  const database = values.database;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new CliError(`--database must be a plain identifier, got "${database}"`);
  const target = adminTarget(values);

  const filters = [
    `last_ts >= now() - INTERVAL ${Math.floor(days)} DAY`,
    `hit_rate < ${below}`,
    `input_tokens >= ${minInput}`,
    ...(values.developer === undefined ? [] : [`developer = ${sqlString(values.developer)}`]),
    ...(values.costCenter === undefined ? [] : [`cost_center = ${sqlString(values.costCenter)}`]),
  ];
  // Pricing happens here (prices live in the policy), so fetch the sessions with the most misses and rank after.
  const query = `SELECT session_id, developer, repo, cost_center, turns, input_tokens, cached_input_tokens, hit_rate, cost_usd,
       uncached_tokens_by_model, toString(last_ts) AS last_seen
FROM ${database}.cache_hit_rate_by_session
WHERE ${filters.join(' AND ')}
ORDER BY input_tokens - cached_input_tokens DESC
LIMIT ${Math.min(10_000, limit * 10)}`;
  const { rows } = await adminRequest<{ rows: SessionRow[] }>(target, 'POST', '/admin/sql', { query });
  const prices = rows.length === 0 ? new Map<string, ModelPrice>() : await loadPrices(target, io);
  const report = rows
    .map((row) => toReportRow(row, prices))
    .sort((a, b) => (b.extra_usd ?? -1) - (a.extra_usd ?? -1) || b.input_tokens - b.cached_input_tokens - (a.input_tokens - a.cached_input_tokens))
    .slice(0, limit);

  if (format !== 'table') return printRecords(io, format, report, REPORT_COLUMNS);
  if (report.length === 0) {
    return io.out(`no session in the last ${days} day(s) with a prompt-cache hit rate below ${percent(below)} (and ≥ ${minInput} input tokens)`);
  }
  printRecords(io, format, report, REPORT_COLUMNS);
  const extra = report.reduce((sum, row) => sum + (row.extra_usd ?? 0), 0);
  const cost = report.reduce((sum, row) => sum + row.cost_usd, 0);
  io.out(
    `${report.length} session(s) below ${percent(below)} hit rate in the last ${days} day(s): ${dollars(cost)} spent, ` +
      `${dollars(extra)} of it paid for cache misses above the cached-input price`,
  );
}

const REPORT_COLUMNS: Column<CacheReportRow>[] = [
  { heading: 'session', value: (row) => row.session_id },
  { heading: 'developer', value: (row) => row.developer },
  { heading: 'repo', value: (row) => row.repo },
  { heading: 'turns', value: (row) => row.turns, align: 'right' },
  { heading: 'input tokens', value: (row) => row.input_tokens.toLocaleString('en-US'), align: 'right' },
  { heading: 'hit rate', value: (row) => percent(row.hit_rate), align: 'right' },
  { heading: 'cost', value: (row) => dollars(row.cost_usd), align: 'right' },
  { heading: 'extra (misses)', value: (row) => (row.extra_usd === null ? '?' : dollars(row.extra_usd)), align: 'right' },
  { heading: 'last turn', value: (row) => formatTime(row.last_ts) },
];

function toReportRow(row: SessionRow, prices: Map<string, ModelPrice> | undefined): CacheReportRow {
  let extra: number | null = prices === undefined ? null : 0;
  for (const [model, tokens] of Object.entries(row.uncached_tokens_by_model ?? {})) {
    if (extra === null) break;
    if (Number(tokens) === 0) continue; // e.g. refused turns (no served model)
    const price = prices?.get(model);
    if (price === undefined) {
      extra = null; // a model the active policy no longer prices
      break;
    }
    extra += (Number(tokens) * Math.max(0, price.input - (price.cached_input ?? price.input))) / 1_000_000;
  }
  return {
    session_id: row.session_id,
    developer: row.developer,
    repo: row.repo,
    cost_center: row.cost_center,
    turns: Number(row.turns),
    input_tokens: Number(row.input_tokens),
    cached_input_tokens: Number(row.cached_input_tokens),
    hit_rate: Number(row.hit_rate),
    cost_usd: Number(row.cost_usd),
    extra_usd: extra === null ? null : Math.round(extra * 1e6) / 1e6,
    last_ts: row.last_seen,
  };
}

async function loadPrices(target: { url: string; token: string }, io: CliIo): Promise<Map<string, ModelPrice> | undefined> {
  try {
    const policy = await adminRequest<{ document?: { models?: Record<string, { price?: ModelPrice }> } }>(target, 'GET', '/admin/policy');
    const prices = new Map<string, ModelPrice>();
    for (const [name, model] of Object.entries(policy.document?.models ?? {})) if (model.price !== undefined) prices.set(name, model.price);
    return prices;
  } catch (error) {
    io.error(`gatehouse: prices unavailable (${(error as Error).message}); the extra cost column shows "?"`);
    return undefined;
  }
}

function numberOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new CliError(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

function sqlString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function dollars(value: number): string {
  return `$${value.toFixed(value !== 0 && Math.abs(value) < 1 ? 4 : 2)}`;
}
