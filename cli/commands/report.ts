import Table from 'cli-table3';
import { ADMIN_OPTIONS, adminRequest, adminTarget, CliError, parse, tableStyle, type CliIo } from '../cli-io.ts';

const USAGE = `usage: gatehouse report cache [--below 0.5] [--days 7] [--limit 20] [--min-input-tokens 10000]
                              [--developer D] [--cost-center C] [--database gatehouse] [--json] [--url URL] [--token T]

Sessions whose prompt-cache hit rate is below --below, with what their cache misses cost above
the cached price (uncached input tokens × (input − cached_input price) of the model that served them).`;

const REPORT_OPTIONS = {
  ...ADMIN_OPTIONS,
  below: { type: 'string', default: '0.5' },
  days: { type: 'string', default: '7' },
  limit: { type: 'string', default: '20' },
  'min-input-tokens': { type: 'string', default: '10000' },
  developer: { type: 'string' },
  'cost-center': { type: 'string' },
  database: { type: 'string', default: 'gatehouse' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

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

/** `gatehouse report <kind>`; only `cache` so far. */
export async function runReportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, REPORT_OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals[0] !== 'cache') throw new CliError(positionals[0] === undefined ? USAGE : `unknown report "${positionals[0]}"\n${USAGE}`);
  const below = numberOption('below', values.below, 0, 1);
  const days = numberOption('days', values.days, 1, 3660);
  const limit = Math.floor(numberOption('limit', values.limit, 1, 10_000));
  const minInput = Math.floor(numberOption('min-input-tokens', values['min-input-tokens'], 0, Number.MAX_SAFE_INTEGER));
  const database = values.database;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new CliError(`--database must be a plain identifier, got "${database}"`);
  const target = adminTarget(values);

  const filters = [
    `last_ts >= now() - INTERVAL ${Math.floor(days)} DAY`,
    `hit_rate < ${below}`,
    `input_tokens >= ${minInput}`,
    ...(values.developer === undefined ? [] : [`developer = ${sqlString(values.developer)}`]),
    ...(values['cost-center'] === undefined ? [] : [`cost_center = ${sqlString(values['cost-center'])}`]),
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

  if (values.json) {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  if (report.length === 0) {
    io.out(`no session in the last ${days} day(s) with a prompt-cache hit rate below ${percent(below)} (and ≥ ${minInput} input tokens)`);
    return 0;
  }
  const table = new Table({
    head: ['session', 'developer', 'repo', 'turns', 'input tokens', 'hit rate', 'cost', 'extra (misses)'],
    colAligns: ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
    style: tableStyle(),
  });
  for (const row of report) {
    table.push([
      row.session_id,
      row.developer,
      row.repo,
      String(row.turns),
      row.input_tokens.toLocaleString('en-US'),
      percent(row.hit_rate),
      dollars(row.cost_usd),
      row.extra_usd === null ? '?' : dollars(row.extra_usd),
    ]);
  }
  io.out(table.toString());
  const extra = report.reduce((sum, row) => sum + (row.extra_usd ?? 0), 0);
  const cost = report.reduce((sum, row) => sum + row.cost_usd, 0);
  io.out(
    `${report.length} session(s) below ${percent(below)} hit rate in the last ${days} day(s): ${dollars(cost)} spent, ` +
      `${dollars(extra)} of it paid for cache misses above the cached-input price`,
  );
  return 0;
}

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
