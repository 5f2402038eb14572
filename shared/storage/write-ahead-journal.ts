import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A write-ahead journal of JSON lines on local disk: rows that wait in memory (the batch writer
 * holds them up to a second before their insert) are appended here first, synchronously, so a
 * process killed in that second (kill -9, the OOM killer) loses none of them; at the next start
 * the rows storage never got are queued again. One `write` on an open descriptor per row (the
 * kernel's page cache survives the process); `sync()` once a second bounds what a power cut loses.
 * Used by the audit log (AuditJournal) and by the batch writer for span rows.
 */
export class WriteAheadJournal {
  private readonly file: string;
  private readonly rotated: string;
  private fd: number | undefined;
  private bytes = 0;
  private rotating = false;
  private dirty = false;
  private readonly rotateBytes: number;

  /**
   * @param name file name stem: `<name>.jsonl`, and `<name>.old.jsonl` while a rotation flushes
   * @param rotateBytes journal size that starts a rotation (its rows are flushed, then the old file dropped)
   */
  constructor(directory: string, name: string, rotateBytes = 4 * 1024 * 1024) {
    this.rotateBytes = rotateBytes;
    mkdirSync(directory, { recursive: true });
    this.file = join(directory, `${name}.jsonl`);
    this.rotated = join(directory, `${name}.old.jsonl`);
  }

  /** Every line in the journal (a rotated file first), in the order written; a torn last line is skipped. */
  readLines(): string[] {
    this.writePending();
    const lines: string[] = [];
    for (const file of [this.rotated, this.file]) {
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
      for (const line of complete.split('\n')) if (line !== '') lines.push(line);
    }
    return lines;
  }

  /** Starts over with just `lines` (those not yet stored), replacing the files atomically. */
  reset(lines: readonly string[]): void {
    this.writePending();
    this.close();
    const text = lines.map((line) => `${line}\n`).join('');
    writeFileSync(`${this.file}.tmp`, text);
    renameSync(`${this.file}.tmp`, this.file);
    rmSync(this.rotated, { force: true });
    this.bytes = Buffer.byteLength(text);
  }

  private pending: string[] = [];
  private afterWrite: (() => void)[] = [];
  private scheduled = false;

  /**
   * Appends one line (one JSON value, no raw newline). Lines appended in one event-loop turn go
   * to the file in one `write` at the end of it (setImmediate): a write per row cost 20–34 µs on
   * the shared test machine, one per turn of the loop is shared by every row of a burst.
   */
  append(line: string): void {
    this.pending.push(line);
    this.bytes += line.length + 1; // UTF-16 units: close enough for a rotation threshold
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.writePending());
  }

  /** Runs `callback` once every line appended so far is written (at once when none waits). */
  whenWritten(callback: () => void): void {
    if (this.pending.length === 0) callback();
    else this.afterWrite.push(callback);
  }

  /** Writes the lines appended since the last write, then runs the callbacks waiting for them. */
  writePending(): void {
    this.scheduled = false;
    const callbacks = this.afterWrite;
    this.afterWrite = [];
    if (this.pending.length > 0) {
      const text = `${this.pending.join('\n')}\n`;
      this.pending = [];
      try {
        this.fd ??= openSync(this.file, 'a');
        writeSync(this.fd, text);
        this.dirty = true;
      } finally {
        for (const callback of callbacks) callback();
      }
      return;
    }
    for (const callback of callbacks) callback();
  }

  /** Forces written lines to the disk (power loss); cheap when nothing was appended since. */
  sync(): void {
    this.writePending();
    if (!this.dirty || this.fd === undefined) return;
    this.dirty = false;
    fdatasyncSync(this.fd);
  }

  /**
   * Moves a full journal aside and drops it once `flush` has made its rows durable (ClickHouse or
   * the spool): rows appended meanwhile go to a fresh file. One rotation at a time.
   */
  rotateIfFull(flush: () => Promise<void>, onError: (error: unknown) => void): void {
    if (this.rotating || this.bytes < this.rotateBytes || existsSync(this.rotated)) return;
    this.rotating = true;
    try {
      this.writePending();
      this.close();
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

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
