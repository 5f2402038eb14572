import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** A batch that could not be written, kept on disk until it can. */
export interface SpooledBatch {
  /** Used as ClickHouse `insert_deduplication_token`, so a replay after a partial success inserts once. */
  batchId: string;
  table: string;
  rows: Record<string, unknown>[];
}

export interface SpoolStats {
  files: number;
  bytes: number;
  droppedBatches: number;
  droppedRows: number;
}

/**
 * Bounded, ordered, crash-safe store of failed insert batches: one file per batch, named by a
 * monotonically increasing sequence so replay keeps order; written to a temp name then renamed so
 * a `kill -9` leaves either the whole batch or nothing.
 */
export class DiskSpool {
  readonly directory: string;
  readonly maxBytes: number;
  private bytes = 0;
  private files = 0;
  private sequence = 0;
  private dropped = { batches: 0, rows: 0 };
  private warnedNearBound = false;
  private readonly onWarning: (message: string, details: Record<string, unknown>) => void;

  constructor(directory: string, maxBytes: number, onWarning: (message: string, details: Record<string, unknown>) => void = () => {}) {
    this.directory = directory;
    this.maxBytes = maxBytes;
    this.onWarning = onWarning;
    mkdirSync(directory, { recursive: true });
    for (const name of this.listFiles()) {
      this.bytes += statSync(join(directory, name)).size;
      this.files += 1;
      this.sequence = Math.max(this.sequence, Number.parseInt(name.slice(0, 16), 10));
    }
  }

  private listFiles(): string[] {
    return readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .sort();
  }

  /** Returns false (and counts the loss) when the spool is full. */
  append(batch: SpooledBatch): boolean {
    const text = JSON.stringify(batch);
    const size = Buffer.byteLength(text);
    if (this.bytes + size > this.maxBytes) {
      this.dropped.batches += 1;
      this.dropped.rows += batch.rows.length;
      this.onWarning('spool full: batch dropped', { table: batch.table, rows: batch.rows.length, spoolBytes: this.bytes, maxBytes: this.maxBytes });
      return false;
    }
    this.sequence += 1;
    const name = `${String(this.sequence).padStart(16, '0')}-${batch.table}.json`;
    const temporary = join(this.directory, `.${name}.tmp`);
    writeFileSync(temporary, text);
    renameSync(temporary, join(this.directory, name));
    this.bytes += size;
    this.files += 1;
    if (!this.warnedNearBound && this.bytes > this.maxBytes * 0.8) {
      this.warnedNearBound = true;
      this.onWarning('spool above 80% of its bound', { spoolBytes: this.bytes, maxBytes: this.maxBytes });
    }
    return true;
  }

  /**
   * Replays batches oldest first; stops at the first failure so order is kept.
   * @returns number of batches replayed
   */
  async replay(write: (batch: SpooledBatch) => Promise<void>): Promise<number> {
    let replayed = 0;
    for (const name of this.listFiles()) {
      const path = join(this.directory, name);
      let batch: SpooledBatch;
      let size: number;
      try {
        const text = readFileSync(path, 'utf8');
        size = Buffer.byteLength(text);
        batch = JSON.parse(text) as SpooledBatch;
      } catch {
        continue; // removed concurrently or unreadable; the latter is left for an operator
      }
      await write(batch);
      unlinkSync(path);
      this.bytes -= size;
      this.files -= 1;
      replayed += 1;
    }
    if (this.bytes < this.maxBytes * 0.5) this.warnedNearBound = false;
    return replayed;
  }

  stats(): SpoolStats {
    return { files: this.files, bytes: this.bytes, droppedBatches: this.dropped.batches, droppedRows: this.dropped.rows };
  }
}
