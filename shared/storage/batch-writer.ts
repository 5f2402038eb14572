import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { DiskSpool, type SpooledBatch } from './disk-spool.ts';

export interface BatchWriterOptions {
  client: ClickHouseClient;
  database: string;
  spool: DiskSpool;
  /**
   * Flush when this many rows are queued. ClickHouse writes a part per insert, so fewer, larger
   * inserts cost less per row (measured on chDB: 31 µs/row at 500 rows, 16 µs/row at 5,000).
   * @defaultValue 5000
   */
  maxBatchRows?: number;
  /** Flush at least this often. @defaultValue 1000 */
  flushIntervalMillis?: number;
  /** Rows held in memory before new ones are dropped (counted). @defaultValue 100000 */
  maxQueueRows?: number;
  /** Retry spooled batches this often. @defaultValue 2000 */
  replayIntervalMillis?: number;
  onError?: (error: unknown, table: string) => void;
}

export interface BatchWriterStats {
  queuedRows: number;
  droppedRows: number;
  writtenRows: number;
  failedBatches: number;
  spooledBatches: number;
}

/**
 * Batches rows per table by count or time, inserts them with a deduplication token, and on failure
 * moves the batch to the disk spool, replaying it in order when ClickHouse answers again.
 */
export class BatchWriter {
  private readonly options: Required<Omit<BatchWriterOptions, 'onError'>> & Pick<BatchWriterOptions, 'onError'>;
  private readonly queues = new Map<string, Record<string, unknown>[]>();
  private queuedRows = 0;
  private readonly counters = { droppedRows: 0, writtenRows: 0, failedBatches: 0, spooledBatches: 0 };
  private flushTimer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: BatchWriterOptions) {
    this.options = {
      maxBatchRows: 5000,
      flushIntervalMillis: 1000,
      maxQueueRows: 100_000,
      replayIntervalMillis: 2000,
      ...options,
    };
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMillis);
    this.flushTimer.unref();
    this.replayTimer = setInterval(() => void this.replaySpool(), this.options.replayIntervalMillis);
    this.replayTimer.unref();
  }

  /** Queues rows for `table` (unqualified name). Never blocks, never throws. */
  write(table: string, rows: Record<string, unknown>[]): void {
    if (this.closed || rows.length === 0) return;
    if (this.queuedRows + rows.length > this.options.maxQueueRows) {
      this.counters.droppedRows += rows.length;
      return;
    }
    let queue = this.queues.get(table);
    if (!queue) this.queues.set(table, (queue = []));
    queue.push(...rows);
    this.queuedRows += rows.length;
    if (queue.length >= this.options.maxBatchRows) void this.flush();
  }

  /** Writes everything queued (to ClickHouse or, failing that, to the spool). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    // Spooled batches go first so rows keep their order per table.
    if (this.options.spool.stats().files > 0) await this.replaySpool();
    for (const [table, queue] of this.queues) {
      while (queue.length > 0) {
        const rows = queue.splice(0, this.options.maxBatchRows);
        this.queuedRows -= rows.length;
        const batch: SpooledBatch = { batchId: randomUUID(), table, rows };
        if (this.options.spool.stats().files > 0) {
          this.spool(batch);
          continue;
        }
        try {
          await this.insert(batch);
        } catch (error) {
          this.counters.failedBatches += 1;
          this.options.onError?.(error, table);
          this.spool(batch);
        }
      }
    }
  }

  private spool(batch: SpooledBatch): void {
    if (this.options.spool.append(batch)) this.counters.spooledBatches += 1;
    else this.counters.droppedRows += batch.rows.length;
  }

  private async insert(batch: SpooledBatch): Promise<void> {
    await this.options.client.insert({
      table: `${this.options.database}.${batch.table}`,
      values: batch.rows,
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: batch.batchId, insert_deduplicate: 1, date_time_input_format: 'best_effort' },
    });
    this.counters.writtenRows += batch.rows.length;
  }

  private replaying: Promise<number> | undefined;

  /** Replays the spool now; returns how many batches went through. */
  async replaySpool(): Promise<number> {
    if (this.replaying) return this.replaying;
    this.replaying = this.options.spool
      .replay((batch) => this.insert(batch))
      .catch((error: unknown) => {
        this.options.onError?.(error, 'spool-replay');
        return 0;
      })
      .finally(() => {
        this.replaying = undefined;
      });
    return this.replaying;
  }

  stats(): BatchWriterStats {
    return { queuedRows: this.queuedRows, ...this.counters };
  }

  spoolStats() {
    return this.options.spool.stats();
  }

  /** Flushes once and stops the timers. Safe to call more than once. */
  async shutdown(): Promise<void> {
    if (this.closed) return this.flushing;
    clearInterval(this.flushTimer);
    clearInterval(this.replayTimer);
    await this.flush();
    this.closed = true;
  }
}
