import { resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeploymentConfig } from '../config/config-schema.ts';
import { createServerAnalystSql, type AnalystSql, type AnalystSqlLimits } from './analyst-sql.ts';
import { createClickHouse } from './create-clickhouse.ts';

export function analystLimitsOf(config: DeploymentConfig): AnalystSqlLimits {
  const limits = config.analyst_sql;
  return {
    maxExecutionSeconds: limits.max_execution_seconds,
    maxResultRows: limits.max_result_rows,
    maxResultBytes: limits.max_result_bytes,
    maxMemoryBytes: limits.max_memory_bytes,
    maxThreads: limits.max_threads,
    maxConcurrent: limits.max_concurrent,
    maxQueueWaitMillis: limits.max_queue_wait_ms,
  };
}

/**
 * The analyst SQL runner of this process: chDB connections of its own next to the main one (embedded), or a
 * client logged in as the dedicated analyst user when `clickhouse.analyst_username` is set (server mode).
 */
export async function createAnalystSql(config: DeploymentConfig, clickhouse: ClickHouseClient, dataDir: string): Promise<AnalystSql> {
  const limits = analystLimitsOf(config);
  const database = config.clickhouse.database;
  if (config.clickhouse.url === 'embedded') {
    const { createEmbeddedAnalystSql } = await import('./embedded-analyst-sql.ts');
    return createEmbeddedAnalystSql({ path: resolve(dataDir, 'clickhouse'), database, limits });
  }
  if (config.clickhouse.analyst_username === undefined) return createServerAnalystSql({ client: clickhouse, database, limits });
  const client = await createClickHouse({ url: config.clickhouse.url, database, dataDir, username: config.clickhouse.analyst_username, password: config.clickhouse.analyst_password });
  const runner = createServerAnalystSql({ client, database, limits });
  return { ...runner, close: async () => client.close() };
}
