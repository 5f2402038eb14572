import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { AdminRole } from '../config/config-schema.ts';
import { ADMIN_ONLY_TABLES, checkStatement, parseAstDump, QueryRefusedError, SCHEMA_SYSTEM_TABLES, type TableAccess } from './analyst-sql-gate.ts';

/**
 * Where analyst SQL runs (`POST /admin/sql`, `gatehouse sql`, the console, `/clickhouse` for analysts):
 * checked by the gate on ClickHouse's own parse, then run with limits the query cannot change, on engine
 * connections of its own, a few at a time, and cancelled in the engine when a limit hits or the caller leaves.
 *
 * Why connections of its own (embedded): one chDB connection runs one statement at a time. Measured on this
 * machine, a `SELECT 1` behind a 3 s analyst query on the same connection waited 2.9 s; on a second
 * connection to the same engine it took 6 ms. The gateway's span/audit writer and `/readyz` keep the main
 * connection; analysts get a small pool, each connection set to `readonly = 1` after its limits, so nothing
 * a query says can raise them (ClickHouse refuses to change any setting in readonly mode).
 */

export interface AnalystSqlLimits {
  /** Engine-side time limit of one query. */
  maxExecutionSeconds: number;
  maxResultRows: number;
  maxResultBytes: number;
  maxMemoryBytes: number;
  /** Threads one analyst query may use (the gateway keeps the rest). */
  maxThreads: number;
  /** Analyst queries running at once; more wait up to `maxQueueWaitMillis`, then get 429. */
  maxConcurrent: number;
  maxQueueWaitMillis: number;
}

export const DEFAULT_ANALYST_LIMITS: AnalystSqlLimits = {
  maxExecutionSeconds: 30,
  maxResultRows: 100_000,
  maxResultBytes: 256 * 1024 * 1024,
  maxMemoryBytes: 1024 * 1024 * 1024,
  maxThreads: 1,
  maxConcurrent: 2,
  maxQueueWaitMillis: 10_000,
};

export interface AnalystQuery {
  sql: string;
  role: AdminRole;
  /** Output format when the query has no FORMAT clause (`JSONEachRow` for /admin/sql). */
  format: string;
  allowFormatClause: boolean;
  queryParams?: Record<string, string> | undefined;
  /** Aborted when the HTTP client goes away: the query is killed in the engine. */
  signal?: AbortSignal | undefined;
}

export interface AnalystAnswer {
  body: Buffer;
  /** The statement that ran: ClickHouse's canonical form of what was sent. */
  statement: string;
}

/** All analyst connections are running a query: 429, try again. */
export class AnalystSqlBusyError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`${limit} analyst ${limit === 1 ? 'query is' : 'queries are'} already running (analyst_sql.max_concurrent) and no slot came free within analyst_sql.max_queue_wait_ms; retry when one finishes`);
    this.name = 'AnalystSqlBusyError';
    this.limit = limit;
  }
}

/** The engine refused or stopped the query (unknown column, time or row limit, cancelled): 400 with its message. */
export class AnalystQueryFailedError extends Error {
  readonly clickhouseCode: number | undefined;
  readonly cancelled: boolean;
  constructor(message: string, clickhouseCode: number | undefined, cancelled: boolean) {
    super(message);
    this.name = 'AnalystQueryFailedError';
    this.clickhouseCode = clickhouseCode;
    this.cancelled = cancelled;
  }
}

export interface AnalystSql {
  /** The canonical statement the gate accepted; throws QueryRefusedError naming the rule broken. */
  check(sql: string, role: AdminRole, allowFormatClause: boolean, queryParams?: Record<string, string>): Promise<string>;
  run(query: AnalystQuery): Promise<AnalystAnswer>;
  /** Queries running now (for tests and metrics). */
  running(): number;
  /** Kills what is running and releases the connections. */
  close(): Promise<void>;
}

/**
 * Tables and views analysts read: telemetry, scores, tool calls, proposals, the audit log, policy versions (the
 * same documents `GET /admin/policy/versions` gives analysts), views. Not `virtual_keys` (key hashes).
 * A table added later is not readable by analysts until it is listed here (a test fails until it is classified).
 */
export const ANALYST_TABLES: readonly string[] = [
  'spans', 'upstream_attempts', 'tool_calls', 'eval_scores', 'audit_log', 'proposals', 'otel_spans', 'policy_versions',
  'request_audit', 'cache_hit_rate_daily', 'cache_hit_rate_by_session', 'cost_by_cost_center_daily',
  'quality_by_model_daily', 'quality_by_cost_center_daily', 'quality_by_rule', 'quality_by_policy_version', 'quality_by_bucket_hour',
];

export { ADMIN_ONLY_TABLES };

/** What each role may name: analysts and approvers the analyst tables; admins every table of the database. */
export function tableAccessFor(role: AdminRole, database: string): TableAccess {
  const databases = new Set([database, 'system']);
  if (role === 'admin') {
    return { databases, canRead: (name) => name.startsWith(`${database}.`) || SCHEMA_SYSTEM_TABLES.has(name), describe: `every ${database}.* table, and system schema tables` };
  }
  const allowed = new Set([...ANALYST_TABLES.map((table) => `${database}.${table}`), ...SCHEMA_SYSTEM_TABLES]);
  return { databases, canRead: (name) => allowed.has(name), describe: `${database}.{${ANALYST_TABLES.join(',')}} and system schema tables (${[...SCHEMA_SYSTEM_TABLES].map((name) => name.slice(7)).join(', ')})` };
}

/** The settings every analyst query runs under, `readonly = 1` last so none can be changed after. */
export function analystSettings(limits: AnalystSqlLimits): Record<string, string | number> {
  return {
    max_execution_time: limits.maxExecutionSeconds,
    timeout_overflow_mode: 'throw',
    max_result_rows: limits.maxResultRows,
    max_result_bytes: limits.maxResultBytes,
    result_overflow_mode: 'throw',
    max_memory_usage: limits.maxMemoryBytes,
    max_threads: limits.maxThreads,
    readonly: 1,
  };
}

/** The gate's two engine round trips, on whatever runs SQL: canonical text, then its syntax tree. */
export interface EngineParser {
  format(sql: string): Promise<string>;
  /** `EXPLAIN AST` of one canonical statement; `{name:Type}` parameters must be bound even to explain. */
  explainAst(statement: string, queryParams: Record<string, string>): Promise<string>;
}

export async function gateStatement(parse: EngineParser, sql: string, access: TableAccess, allowFormatClause: boolean, queryParams: Record<string, string> = {}): Promise<string> {
  if (sql.trim().length === 0) throw new QueryRefusedError('syntax', 'the query is empty');
  let statement: string;
  try {
    statement = (await parse.format(sql)).trim();
  } catch (error) {
    const message = engineMessage(error);
    if (/Multi-statements are not allowed/i.test(message)) throw new QueryRefusedError('one_statement', 'send exactly one statement (found more after a ";")');
    throw new QueryRefusedError('syntax', message);
  }
  if (statement.length === 0) throw new QueryRefusedError('syntax', 'the query is empty (only comments?)');
  let dump: string;
  try {
    dump = await parse.explainAst(statement, queryParams);
  } catch (error) {
    const message = engineMessage(error);
    // The parser connection is readonly: explaining a statement applies its SETTINGS clause, which it refuses.
    if (/Cannot modify '.*' setting in readonly mode/.test(message)) throw new QueryRefusedError('settings', 'a query may not carry SETTINGS; the gateway fixes the limits analyst queries run with (time, rows, memory, readonly)');
    throw new QueryRefusedError('syntax', message);
  }
  checkStatement(parseAstDump(dump), { access, allowFormatClause });
  return statement;
}

/** A ClickHouse exception's own words, without the wrapper (`Query failed: Code: N. DB::Exception: … (TYPE)`). */
export function engineMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .replace(/^Query failed: /, '')
    .replace(/^Code: \d+\. DB::Exception: /, '')
    .replace(/^Code: \d+\. DB::Exception: /, '')
    .replace(/ In scope SELECT formatQuery\(.*$/s, '')
    .replace(/\s*\((?:version [^)]*)\)/g, '')
    .replace(/\s*\([A-Z_]+\)\s*$/, '')
    .slice(0, 1000);
}

export function engineCode(error: unknown): number | undefined {
  const match = /Code: (\d+)\./.exec(error instanceof Error ? error.message : String(error));
  return match ? Number(match[1]) : undefined;
}

/**
 * Counts running queries; past the cap a query waits (the console loads a page's charts at once) for at
 * most `maxWaitMillis`, a few waiters per slot, then is refused with 429. Waiting holds nothing in the engine.
 */
export class ConcurrencyCap {
  private inUse = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly limit: number;
  private readonly maxWaitMillis: number;
  constructor(limit: number, maxWaitMillis: number) {
    this.limit = limit;
    this.maxWaitMillis = maxWaitMillis;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inUse >= this.limit) await this.wait(signal);
    else this.inUse += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter (inUse stays), or is freed.
      if (next) next();
      else this.inUse -= 1;
    };
  }

  private wait(signal?: AbortSignal): Promise<void> {
    if (this.waiters.length >= this.limit * 4 || this.maxWaitMillis === 0) return Promise.reject(new AnalystSqlBusyError(this.limit));
    return new Promise<void>((resolve, reject) => {
      const leave = (error: Error) => {
        const index = this.waiters.indexOf(granted);
        if (index >= 0) this.waiters.splice(index, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const granted = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => leave(new AnalystQueryFailedError('the client went away while the query waited for a slot', undefined, true));
      const timer = setTimeout(() => leave(new AnalystSqlBusyError(this.limit)), this.maxWaitMillis);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(granted);
    });
  }

  count(): number {
    return this.inUse;
  }
}

export interface ServerAnalystSqlOptions {
  /** A client logged in as the analyst user of docs/DEPLOY.md (or the gateway's own when none is configured). */
  client: ClickHouseClient;
  database: string;
  limits: AnalystSqlLimits;
}

/**
 * Server mode: every call carries the limits and `readonly = 1` as request settings (which outrank nothing
 * the query may say: it may say no SETTINGS), and is aborted with its HTTP request when the caller leaves
 * or time runs out, which makes ClickHouse cancel it (`cancel_http_readonly_queries_on_client_close`).
 */
export function createServerAnalystSql(options: ServerAnalystSqlOptions): AnalystSql {
  const cap = new ConcurrencyCap(options.limits.maxConcurrent, options.limits.maxQueueWaitMillis);
  const readOnly = { readonly: '1' } as const;
  const parse: EngineParser = {
    format: async (sql: string) => {
      const result = await options.client.query({ query: 'SELECT formatQuery({q:String}) AS q', query_params: { q: sql }, format: 'JSONEachRow', clickhouse_settings: readOnly });
      return ((await result.json<{ q: string }>())[0]?.q ?? '') as string;
    },
    explainAst: async (statement, queryParams) => {
      const result = await options.client.exec({ query: `EXPLAIN AST ${statement}`, query_params: queryParams, clickhouse_settings: { ...readOnly, default_format: 'TSVRaw' } as never });
      const chunks: Buffer[] = [];
      for await (const chunk of result.stream) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
  };
  const check = (sql: string, role: AdminRole, allowFormatClause: boolean, queryParams?: Record<string, string>) =>
    gateStatement(parse, sql, tableAccessFor(role, options.database), allowFormatClause, queryParams);
  const settings = Object.fromEntries(Object.entries(analystSettings(options.limits)).map(([name, value]) => [name, String(value)]));
  return {
    check,
    running: () => cap.count(),
    async run(query) {
      const statement = await check(query.sql, query.role, query.allowFormatClause, query.queryParams);
      const release = await cap.acquire(query.signal);
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      query.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(onAbort, (options.limits.maxExecutionSeconds + 2) * 1000);
      try {
        const result = await options.client.exec({
          query: statement,
          abort_signal: abort.signal,
          clickhouse_settings: { ...settings, default_format: query.format as 'JSONEachRow', cancel_http_readonly_queries_on_client_close: 1 } as never,
          ...(query.queryParams && Object.keys(query.queryParams).length > 0 ? { query_params: query.queryParams } : {}),
        });
        const chunks: Buffer[] = [];
        for await (const chunk of result.stream) chunks.push(Buffer.from(chunk as Buffer));
        return { body: Buffer.concat(chunks), statement };
      } catch (error) {
        throw new AnalystQueryFailedError(abort.signal.aborted ? 'the query was cancelled (time limit, or the client went away)' : engineMessage(error), engineCode(error), abort.signal.aborted);
      } finally {
        clearTimeout(timer);
        query.signal?.removeEventListener('abort', onAbort);
        release();
      }
    },
    close: async () => undefined,
  };
}

/** A marker the engine keeps in `system.processes.query`, so exactly this query can be killed. */
export function markStatement(statement: string): { marker: string; sql: string } {
  const marker = `/* gatehouse-analyst ${randomUUID()} */`;
  return { marker, sql: `${marker}\n${statement}` };
}
