import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { GatewayError } from '../errors/gateway-error.ts';

const MAX_ROWS = 100_000;

/**
 * Read-only SQL for analysts. Safety comes from ClickHouse itself (`readonly=2`: no writes, no DDL,
 * settings may be read), plus a row and time cap, not from parsing the query.
 */
export function registerSqlRoutes(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: { query?: unknown } }>('/admin/sql', { preHandler: context.requireRole('analyst') }, async (request) => {
    const query = request.body?.query;
    if (typeof query !== 'string' || query.trim().length === 0) {
      throw new GatewayError('invalid_request', { message: 'gatehouse: send {"query": "SELECT …"}', param: 'query' });
    }
    try {
      const result = await context.clickhouse.query({
        query: query.trim().replace(/;\s*$/, ''),
        format: 'JSONEachRow',
        clickhouse_settings: { readonly: '2', max_result_rows: String(MAX_ROWS), result_overflow_mode: 'break', max_execution_time: 60 },
      });
      return { rows: await result.json() };
    } catch (error) {
      throw new GatewayError('invalid_request', { message: `gatehouse: query failed: ${(error as Error).message.slice(0, 1000)}`, param: 'query' });
    }
  });
}
