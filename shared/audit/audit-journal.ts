import type { AuditRow } from './hash-chain-audit-log.ts';
import { WriteAheadJournal } from '../storage/write-ahead-journal.ts';

/**
 * The audit log's write-ahead journal (`audit-journal.jsonl`): audit rows wait up to a second in
 * the batch writer's memory before their insert, and a process killed in that second would leave
 * a gap in the chain. Each row is appended as it is built; at the next start the rows storage
 * never got are queued again. The mechanism is WriteAheadJournal's, shared with span rows.
 */
export class AuditJournal {
  private readonly journal: WriteAheadJournal;

  /** @param rotateBytes journal size that starts a rotation (its rows are flushed, then the old file dropped) */
  constructor(directory: string, rotateBytes = 4 * 1024 * 1024) {
    this.journal = new WriteAheadJournal(directory, 'audit-journal', rotateBytes);
  }

  /** Every row in the journal (a rotated file first), in the order written; a torn last line is skipped. */
  read(): AuditRow[] {
    const rows: AuditRow[] = [];
    for (const line of this.journal.readLines()) {
      try {
        rows.push(JSON.parse(line) as AuditRow);
      } catch {
        // a line a kill cut short: its row never reached the writer either
      }
    }
    return rows;
  }

  /** Starts over with just `rows` (those not yet stored). */
  reset(rows: readonly AuditRow[]): void {
    this.journal.reset(rows.map((row) => JSON.stringify(row)));
  }

  /** Written at once, not at the end of the loop turn: audit events are rare, and each must survive a kill. */
  append(row: AuditRow): void {
    this.journal.append(JSON.stringify(row));
    this.journal.writePending();
  }

  rotateIfFull(flush: () => Promise<void>, onError: (error: unknown) => void): void {
    this.journal.rotateIfFull(flush, onError);
  }
}
