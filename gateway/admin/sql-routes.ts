import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { QueryRefusedError } from '../../shared/clickhouse/analyst-sql-gate.ts';
import { AnalystQueryFailedError, AnalystSqlBusyError, type AnalystSql } from '../../shared/clickhouse/analyst-sql.ts';
import type { AdminRole } from '../../shared/config/config-schema.ts';

/**
 * Read-only SQL for analysts (and the CLI's `gatehouse sql`, and the console). Every query goes through the
 * analyst gate (shared/clickhouse/analyst-sql-gate.ts: one reading statement, no files, network or settings,
 * only the tables the token's role may read) and runs with limits it cannot change, on connections of its own.
 */
export async function sqlRoutes(app: FastifyInstance, { context }: { context: GatewayContext }): Promise<void> {
  app.post<{ Body: { query?: unknown } }>('/admin/sql', { preHandler: context.requireRole('analyst') }, async (request, reply) => {
    const query = request.body?.query;
    if (typeof query !== 'string' || query.trim().length === 0) {
      throw new GatewayError('invalid_request', { message: 'gatehouse: send {"query": "SELECT …"}', param: 'query' });
    }
    const answer = await runAnalystQuery(context.analystSql, request, reply, { sql: query, format: 'JSONEachRow', allowFormatClause: false });
    const text = answer.toString('utf8');
    const rows = text.length === 0 ? [] : text.replace(/\n$/, '').split('\n').map((line) => JSON.parse(line) as unknown);
    return { rows };
  });
}

/** Runs one analyst query for this request, cancelled if the client disconnects; errors become GatewayErrors. */
export async function runAnalystQuery(
  analystSql: AnalystSql,
  request: FastifyRequest,
  reply: FastifyReply,
  query: { sql: string; format: string; allowFormatClause: boolean; queryParams?: Record<string, string> },
): Promise<Buffer> {
  const gone = new AbortController();
  // 'close' on the response before it was sent = the client went away while the query ran.
  const onClose = () => {
    if (!reply.raw.writableEnded) gone.abort();
  };
  reply.raw.once('close', onClose);
  try {
    const answer = await analystSql.run({ ...query, role: (request.admin?.role ?? 'analyst') as AdminRole, signal: gone.signal });
    return answer.body;
  } catch (error) {
    throw asGatewayError(error);
  } finally {
    reply.raw.off('close', onClose);
  }
}

export function asGatewayError(error: unknown): unknown {
  if (error instanceof QueryRefusedError) return new GatewayError('invalid_request', { message: `gatehouse: ${error.message}`, param: 'query' });
  if (error instanceof AnalystSqlBusyError) return new GatewayError('analyst_sql_busy', { message: `gatehouse: ${error.message}`, retryAfterMillis: 1_000 });
  if (error instanceof AnalystQueryFailedError) {
    return new GatewayError('invalid_request', { message: `gatehouse: query failed: ${error.message}`, param: 'query' });
  }
  return error;
}
