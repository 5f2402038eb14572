import { createRequire } from 'node:module';
import type { AdminRole } from '../config/config-schema.ts';
import { renderSetting } from './query-scoped-settings.ts';
import {
  AnalystQueryFailedError,
  analystSettings,
  ConcurrencyCap,
  engineCode,
  engineMessage,
  gateStatement,
  markStatement,
  tableAccessFor,
  type AnalystAnswer,
  type AnalystQuery,
  type AnalystSql,
  type AnalystSqlLimits,
  type EngineParser,
} from './analyst-sql.ts';

/** `text` as a ClickHouse string literal: every backslash and quote escaped, so it cannot end early. */
export function stringLiteral(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** The part of chDB's Session used here (the package ships CommonJS with loose types). */
interface ChdbSession {
  query(sql: string, format?: string): string;
  queryAsync(sql: string, options?: { format?: string }): Promise<{ bytes(): Uint8Array; text(): string }>;
  queryBindAsync(sql: string, params: Record<string, unknown>, options?: { format?: string }): Promise<{ bytes(): Uint8Array; text(): string }>;
  close(): void;
}
type SessionConstructor = new (path: string) => ChdbSession;

export interface EmbeddedAnalystSqlOptions {
  /** The engine's data directory: the same one the main connection opened (one engine per process). */
  path: string;
  database: string;
  limits: AnalystSqlLimits;
}

/**
 * Embedded mode: analyst queries on chDB connections of their own (see analyst-sql.ts for why), each set to
 * the limits and then `readonly = 1` once, when opened. A query is marked with a comment naming it; when
 * its caller leaves, or it outlives its time limit (the engine's own `max_execution_time` normally stops it
 * first), `KILL QUERY` on a separate control connection cancels it in the engine: chDB's async call itself
 * cannot be interrupted, but the engine checks for cancellation while it reads and computes.
 */
// Over 60 lines: a factory: the closures share the connection pool, the cap and the running queries; `run` inside is the per-query work.
export function createEmbeddedAnalystSql(options: EmbeddedAnalystSqlOptions): AnalystSql {
  const Session = createRequire(import.meta.url)('chdb').Session as SessionConstructor;
  const settings = analystSettings(options.limits);
  const setLimits = `SET ${Object.entries(settings).filter(([name]) => name !== 'readonly').map(([name, value]) => renderSetting(name, value)).join(', ')}`;
  const open = (readonly: boolean): ChdbSession => {
    const session = new Session(options.path);
    if (readonly) {
      session.query(setLimits);
      session.query('SET readonly = 1');
    }
    return session;
  };
  // The parser connection is read-only too: it only formats and explains, never executes what it is given.
  const parser = open(true);
  const control = open(false);
  const idle: ChdbSession[] = Array.from({ length: options.limits.maxConcurrent }, () => open(true));
  const cap = new ConcurrencyCap(options.limits.maxConcurrent, options.limits.maxQueueWaitMillis);
  const running = new Map<string, Promise<unknown>>();
  let closed = false;

  const parse: EngineParser = {
    // A string literal, not a bound parameter: chDB runs every bound query of the process one at a time,
    // so a parameterized analyst query still running would hold up every check behind it.
    format: async (sql) => (await parser.queryAsync(`SELECT formatQuery(${stringLiteral(sql)})`, { format: 'TSVRaw' })).text(),
    explainAst: async (statement, queryParams) =>
      Object.keys(queryParams).length > 0
        ? (await parser.queryBindAsync(`EXPLAIN AST ${statement}`, queryParams, { format: 'TSVRaw' })).text()
        : (await parser.queryAsync(`EXPLAIN AST ${statement}`, { format: 'TSVRaw' })).text(),
  };
  const check = (sql: string, role: AdminRole, allowFormatClause: boolean, queryParams?: Record<string, string>) =>
    gateStatement(parse, sql, tableAccessFor(role, options.database), allowFormatClause, queryParams);
  const kill = (marker: string) => control.queryAsync(`KILL QUERY WHERE startsWith(query, '${marker}') ASYNC`, { format: 'TSV' }).catch(() => undefined);

  async function run(query: AnalystQuery): Promise<AnalystAnswer> {
    if (closed) throw new AnalystQueryFailedError('the gateway is shutting down', undefined, true);
    const statement = await check(query.sql, query.role, query.allowFormatClause, query.queryParams);
    const release = await cap.acquire(query.signal);
    const session = idle.pop() as ChdbSession;
    const { marker, sql } = markStatement(statement);
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      void kill(marker);
    };
    query.signal?.addEventListener('abort', cancel, { once: true });
    if (query.signal?.aborted) cancel();
    // The engine's max_execution_time stops the query first; this is the backstop for a read that never yields.
    const timer = setTimeout(cancel, options.limits.maxExecutionSeconds * 1000 + 2_000);
    const native = query.queryParams && Object.keys(query.queryParams).length > 0
      ? session.queryBindAsync(sql, query.queryParams, { format: query.format })
      : session.queryAsync(sql, { format: query.format });
    running.set(marker, native.catch(() => undefined));
    try {
      const result = await native;
      const bytes = result.bytes();
      return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), statement };
    } catch (error) {
      const message = cancelled ? 'the query was cancelled (the client went away, or it ran past analyst_sql.max_execution_seconds)' : engineMessage(error);
      throw new AnalystQueryFailedError(message, engineCode(error), cancelled);
    } finally {
      clearTimeout(timer);
      query.signal?.removeEventListener('abort', cancel);
      running.delete(marker);
      // The connection goes back only once the engine is done with it (the native call has settled).
      idle.push(session);
      release();
    }
  }

  return {
    check,
    run,
    running: () => cap.count(),
    async close() {
      if (closed) return;
      closed = true;
      const markers = [...running.keys()];
      await Promise.all(markers.map((marker) => kill(marker)));
      // Bounded: a query the engine cannot stop must not hold the shutdown (the process exits anyway).
      await Promise.race([Promise.allSettled([...running.values()]), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      for (const session of [...idle, parser, control]) session.close();
    },
  };
}
