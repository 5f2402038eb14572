import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRow } from './hash-chain-audit-log.ts';

/**
 * A write-ahead journal of audit rows on local disk. Audit rows wait up to a second in the batch
 * writer's memory before their insert; a process killed in that second (kill -9, OOM, power cut of
 * the container) would leave a gap in the chain. Each row is appended here, synchronously, as it is
 * built; at the next start the rows the storage never got are queued again. Audit events are rare
 * (denials once per turn, budget stages, policy and key changes), so a write per event is cheap.
 */
export class AuditJournal {
  private readonly file: string;
  private readonly rotated: string;
  private bytes = 0;
  private rotating = false;
  private readonly rotateBytes: number;

  /** @param rotateBytes journal size that starts a rotation (its rows are flushed, then the old file dropped) */
  constructor(directory: string, rotateBytes = 4 * 1024 * 1024) {
    this.rotateBytes = rotateBytes;
    mkdirSync(directory, { recursive: true });
    this.file = join(directory, 'audit-journal.jsonl');
    this.rotated = join(directory, 'audit-journal.old.jsonl');
  }

  /** Every row in the journal (a rotated file first), in the order written; a torn last line is skipped. */
  read(): AuditRow[] {
    const rows: AuditRow[] = [];
    for (const file of [this.rotated, this.file]) {
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line === '') continue;
        try {
          rows.push(JSON.parse(line) as AuditRow);
        } catch {
          // the line a kill cut short: its row never reached the writer either
        }
      }
    }
    return rows;
  }

  /** Starts over with just `rows` (those not yet stored), replacing the files atomically. */
  reset(rows: readonly AuditRow[]): void {
    const text = rows.map((row) => `${JSON.stringify(row)}\n`).join('');
    writeFileSync(`${this.file}.tmp`, text);
    renameSync(`${this.file}.tmp`, this.file);
    rmSync(this.rotated, { force: true });
    this.bytes = Buffer.byteLength(text);
  }

  append(row: AuditRow): void {
    const line = `${JSON.stringify(row)}\n`;
    appendFileSync(this.file, line);
    this.bytes += Buffer.byteLength(line);
  }

  /**
   * Moves a full journal aside and drops it once `flush` has made its rows durable (ClickHouse or
   * the spool): rows appended meanwhile go to a fresh file. One rotation at a time.
   */
  rotateIfFull(flush: () => Promise<void>, onError: (error: unknown) => void): void {
    if (this.rotating || this.bytes < this.rotateBytes || existsSync(this.rotated)) return;
    this.rotating = true;
    try {
      renameSync(this.file, this.rotated);
      this.bytes = 0;
    } catch (error) {
      this.rotating = false;
      onError(error);
      return;
    }
    flush()
      .then(() => rmSync(this.rotated, { force: true }))
      .catch(onError)
      .finally(() => {
        this.rotating = false;
      });
  }
}
