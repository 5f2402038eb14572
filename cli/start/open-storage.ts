import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { createAnalystSql } from '../../shared/clickhouse/create-analyst-sql.ts';
import type { AnalystSql } from '../../shared/clickhouse/analyst-sql.ts';
import { DiskSpool } from '../../shared/storage/disk-spool.ts';
import { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { WriteAheadJournal } from '../../shared/storage/write-ahead-journal.ts';
import { recoverJournaledRows } from '../../shared/storage/recover-journaled-rows.ts';
import { acquireDataDirLock, engineLockError } from '../../shared/storage/data-dir-lock.ts';

/** ClickHouse and the span path into it, opened under the data directory's lock. */
export interface Storage {
  clickhouse: ClickHouseClient;
  database: string;
  analystSql: AnalystSql;
  writer: BatchWriter;
  spoolDirectory: string;
  /** Releases the data directory (last step of a close, after ClickHouse is closed). */
  releaseDataDir(): void;
}

/** Opens ClickHouse and applies the migrations; an engine lock held outside Gatehouse is named, not dumped. */
async function openClickHouse(config: DeploymentConfig, dataDir: string): Promise<ClickHouseClient> {
  const clickhouse = await createClickHouse({ url: config.clickhouse.url, database: config.clickhouse.database, dataDir, username: config.clickhouse.username, password: config.clickhouse.password });
  try {
    await migrate(clickhouse, config.clickhouse.database);
  } catch (error) {
    await clickhouse.close().catch(() => undefined);
    throw engineLockError(error, dataDir);
  }
  return clickhouse;
}

/** The batch writer with its disk spool, and span rows a stopped process left in the journal queued again. */
async function openSpanWriter(config: DeploymentConfig, clickhouse: ClickHouseClient, dataDir: string, logger: Logger): Promise<{ writer: BatchWriter; spoolDirectory: string }> {
  const database = config.clickhouse.database;
  const spoolDirectory = resolve(dataDir, 'spool');
  const spool = new DiskSpool(spoolDirectory, config.spool.max_bytes, (message, details) => logger.warn(details, message));
  // Span rows wait up to a second for their insert: journaled first, a kill -9 loses none of them
  // (and none of the spend the embedded ledger rebuilds from them).
  const spanJournal = new WriteAheadJournal(resolve(dataDir, 'span-journal'), 'spans');
  const writer = new BatchWriter({
    client: clickhouse,
    database,
    spool,
    journals: { spans: spanJournal },
    insertTimeoutMillis: config.clickhouse.insert_timeout_ms,
    onError: (error, table) => logger.warn({ err: { message: (error as Error).message }, table }, 'ClickHouse write failed; batch spooled'),
  });
  const recoveredSpans = await recoverJournaledRows({ client: clickhouse, database, table: 'spans', keyColumn: 'request_id', journal: spanJournal, writer, spoolDirectory });
  if (recoveredSpans > 0) logger.warn({ rows: recoveredSpans }, 'span rows a stopped process had not written were queued again from the span journal');
  return { writer, spoolDirectory };
}

export async function openStorage(config: DeploymentConfig, dataDir: string, logger: Logger): Promise<Storage> {
  // Before anything opens the directory: a second process gets one line naming the owner, not chDB's stack trace.
  const dataDirLock = acquireDataDirLock(dataDir);
  const clickhouse = await openClickHouse(config, dataDir).catch((error: unknown) => {
    dataDirLock.release();
    throw error;
  });
  const analystSql = await createAnalystSql(config, clickhouse, dataDir);
  const { writer, spoolDirectory } = await openSpanWriter(config, clickhouse, dataDir, logger);
  return { clickhouse, database: config.clickhouse.database, analystSql, writer, spoolDirectory, releaseDataDir: () => dataDirLock.release() };
}
