import { Readable } from 'node:stream';
import { HTTP_TRANSPORT_SETTINGS } from '../../shared/clickhouse/query-scoped-settings.ts';
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AdminRole } from '../../shared/config/config-schema.ts';
import { QueryRefusedError } from '../../shared/clickhouse/analyst-sql-gate.ts';
import { AnalystQueryFailedError, AnalystSqlBusyError, type AnalystSql } from '../../shared/clickhouse/analyst-sql.ts';

export interface ClickHouseHttpRoutesOptions {
  /** The process's ClickHouse client (in embedded mode: chDB through `chdb/connection`). */
  clickhouse: ClickHouseClient;
  /** Where readers' queries run: the analyst gate and limits (shared/clickhouse/analyst-sql.ts). */
  analystSql: AnalystSql;
  /** The admin-auth preHandler factory (gateway/plugins/admin-auth.ts); analysts and up may read. */
  requireRole: (role: AdminRole) => preHandlerAsyncHookHandler;
  /** Path the endpoint answers on. @defaultValue /clickhouse */
  prefix?: string;
  /** Also answer `GET /ping` (where @clickhouse/client's `ping()` goes whatever its pathname). @defaultValue true */
  rootPing?: boolean;
  /**
   * Tokens of this role may also write (inserts, DDL): how the other processes of a distributed
   * deployment on one machine reach the single embedded engine (`clickhouse.url: http://host:port/clickhouse`,
   * password = an admin token). Absent = read-only for everyone.
   */
  writeRole?: AdminRole | undefined;
}

/** URL parameters of ClickHouse's HTTP interface that are not settings. */
const NOT_SETTINGS = new Set(['query', 'user', 'password', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check', 'compress', 'decompress', 'readonly']);
const HTTP_ONLY_SETTINGS = HTTP_TRANSPORT_SETTINGS;

/** ClickHouse error codes used in answers. */
const READONLY = { code: 164, name: 'READONLY' };
const AUTHENTICATION_FAILED = { code: 516, name: 'AUTHENTICATION_FAILED' };
const ACCESS_DENIED = { code: 497, name: 'ACCESS_DENIED' };
const SYNTAX_ERROR = { code: 62, name: 'SYNTAX_ERROR' };
const TOO_MANY_QUERIES = { code: 202, name: 'TOO_MANY_SIMULTANEOUS_QUERIES' };

/**
 * The token from whatever ClickHouse clients send: Basic auth (password, or the user name when the
 * password is empty), `X-ClickHouse-Key`, or `?password=`. Rewritten to the Bearer header the admin
 * preHandler reads.
 */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    return password || user || undefined;
  }
  if (typeof header === 'string' && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  const key = request.headers['x-clickhouse-key'];
  if (typeof key === 'string' && key) return key;
  const password = (request.query as Record<string, string | undefined>).password;
  return password || undefined;
}

/** Sends an error in ClickHouse's text shape, which its clients parse for code and type. */
function sendClickHouseError(reply: FastifyReply, status: number, error: { code: number; name: string }, message: string) {
  return reply
    .code(status)
    .header('x-clickhouse-exception-code', String(error.code))
    .type('text/plain; charset=UTF-8')
    .send(`Code: ${error.code}. DB::Exception: ${message.trim().replace(/\.+$/, '')}. (${error.name}) (version gatehouse)\n`);
}

function settingsOf(parameters: Record<string, string | undefined>): { settings: Record<string, string>; queryParams: Record<string, string> } {
  const settings: Record<string, string> = {};
  const queryParams: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    if (value === undefined) continue;
    if (name.startsWith('param_')) queryParams[name.slice(6)] = value;
    else if (!NOT_SETTINGS.has(name) && !HTTP_ONLY_SETTINGS.has(name)) settings[name] = value;
  }
  return { settings, queryParams };
}

type Parameters = Record<string, string | undefined>;

/** Failures before a query ran (auth, parsing) in ClickHouse's error shape, which its clients parse. */
function clickHouseErrorHandler(error: FastifyError & { status?: number }, _request: FastifyRequest, reply: FastifyReply) {
  const status = error.statusCode ?? error.status ?? 500;
  if (status === 401) return sendClickHouseError(reply, 401, AUTHENTICATION_FAILED, error.message);
  if (status === 403) return sendClickHouseError(reply, 403, ACCESS_DENIED, error.message);
  return sendClickHouseError(reply, status >= 400 && status < 600 ? status : 500, { code: 1001, name: 'STD_EXCEPTION' }, error.message);
}

/** A reader's statement through the analyst gate and limits; URL settings are not applied (the analyst limits and readonly = 1 are fixed). */
async function runReaderQuery(analystSql: AnalystSql, request: FastifyRequest, reply: FastifyReply, parameters: Parameters, body: string, queryParams: Record<string, string>) {
  const query = [parameters.query ?? '', body].filter((part) => part.trim().length > 0).join('\n');
  const format = parameters.default_format ?? 'TabSeparated';
  const gone = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) gone.abort();
  };
  reply.raw.once('close', onClose);
  try {
    const answer = await analystSql.run({
      sql: query,
      role: (request.admin?.role ?? 'analyst') as AdminRole,
      format,
      allowFormatClause: true,
      queryParams,
      signal: gone.signal,
    });
    const queryId = parameters.query_id ?? randomUUID();
    reply.header('x-clickhouse-query-id', queryId).header('x-clickhouse-format', format).header('x-clickhouse-summary', JSON.stringify({}));
    return reply.type(format.startsWith('JSON') ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8').send(answer.body);
  } catch (error) {
    if (error instanceof QueryRefusedError) return sendClickHouseError(reply, 400, error.rule === 'reading_statement' ? READONLY : error.rule === 'syntax' || error.rule === 'one_statement' ? SYNTAX_ERROR : ACCESS_DENIED, `gatehouse: ${error.message}`);
    if (error instanceof AnalystSqlBusyError) return sendClickHouseError(reply, 429, TOO_MANY_QUERIES, `gatehouse: ${error.message}`);
    if (error instanceof AnalystQueryFailedError) return sendClickHouseError(reply, 500, { code: error.clickhouseCode ?? 1001, name: error.cancelled ? 'QUERY_WAS_CANCELLED' : 'STD_EXCEPTION' }, error.message);
    throw error;
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** A writer's statement as ClickHouse's HTTP interface takes it: `?query=` with the data in the body, or the statement in the body. */
async function passThrough(clickhouse: ClickHouseClient, reply: FastifyReply, parameters: Parameters, body: string, settings: Record<string, string>, queryParams: Record<string, string>) {
  const queryId = parameters.query_id ?? randomUUID();
  const format = parameters.default_format ?? 'TabSeparated';
  const withData = parameters.query !== undefined && parameters.query.trim().length > 0 && body.length > 0;
  try {
    const result = await clickhouse.exec({
      query: withData ? (parameters.query as string) : [parameters.query ?? '', body].filter((part) => part.trim().length > 0).join('\n'),
      query_id: queryId,
      clickhouse_settings: { ...settings, default_format: format as 'TabSeparated' },
      ...(withData ? { values: Readable.from([body]) } : {}),
      ...(Object.keys(queryParams).length > 0 ? { query_params: queryParams } : {}),
    });
    reply.header('x-clickhouse-query-id', queryId).header('x-clickhouse-format', format).header('x-clickhouse-summary', JSON.stringify(result.summary ?? {}));
    return reply.type(format.startsWith('JSON') ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8').send(result.stream);
  } catch (error) {
    const failure = error as Error & { code?: string; type?: string };
    const code = Number(failure.code);
    return sendClickHouseError(reply, 500, { code: Number.isFinite(code) && code > 0 ? code : 1001, name: failure.type ?? 'STD_EXCEPTION' }, failure.message);
  }
}

/**
 * A ClickHouse-compatible, read-only HTTP endpoint over the process's one ClickHouse engine, so
 * standard tools (clickhouse-client over HTTP, @clickhouse/client, Grafana, DBeaver) and the other
 * distributed processes can query the embedded chDB: `GET|POST {prefix}/?query=…` with Basic auth
 * (any user name, an analyst-or-higher admin token as password). Readers' statements go through the
 * analyst gate and limits (shared/clickhouse/analyst-sql.ts), as on `/admin/sql`; qualify table names
 * (`gatehouse.spans`): the `database` parameter is not honoured. Encapsulated, with its own error
 * handler so failures reach ClickHouse clients in ClickHouse's error shape.
 * Register unprefixed: `app.register(clickhouseHttpRoutes, { clickhouse, requireRole })`.
 */
export async function clickhouseHttpRoutes(app: FastifyInstance, options: ClickHouseHttpRoutesOptions): Promise<void> {
  const prefix = (options.prefix ?? '/clickhouse').replace(/\/$/, '');

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.setErrorHandler(clickHouseErrorHandler);

  const ping = async (_request: FastifyRequest, reply: FastifyReply) => reply.type('text/plain; charset=UTF-8').send('Ok.\n');
  app.get(`${prefix}/ping`, ping);
  if (options.rootPing !== false && !app.hasRoute({ method: 'GET', url: '/ping' })) app.get('/ping', ping);

  const authorize = options.requireRole('analyst');
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = presentedToken(request);
    if (!token) return sendClickHouseError(reply, 401, AUTHENTICATION_FAILED, 'gatehouse: give an analyst (or higher) admin token as the password (Basic auth or X-ClickHouse-Key)');
    request.headers.authorization = `Bearer ${token}`;
    await authorize.call(app, request, reply);
    const parameters = request.query as Parameters;
    const body = typeof request.body === 'string' ? request.body : '';
    const { settings, queryParams } = settingsOf(parameters);
    if (options.writeRole !== undefined && request.admin?.role === options.writeRole) return passThrough(options.clickhouse, reply, parameters, body, settings, queryParams);
    return runReaderQuery(options.analystSql, request, reply, parameters, body, queryParams);
  };
  app.get(`${prefix}/`, handler);
  app.post(`${prefix}/`, handler);
  if (!app.hasRoute({ method: 'GET', url: prefix })) {
    app.get(prefix, handler);
    app.post(prefix, handler);
  }
}
