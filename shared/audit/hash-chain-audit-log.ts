import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { AuditEvent, AuditSink } from './audit-event.ts';
import type { BatchWriter } from '../storage/batch-writer.ts';
import type { SpooledBatch } from '../storage/disk-spool.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { sha256Hex } from '../signing/hash.ts';
import { toClickHouseTime } from '../clickhouse/clickhouse-time.ts';
import { AuditJournal } from './audit-journal.ts';
import type { AnchoredCheckpoint, AuditCheckpointStore } from './audit-checkpoint.ts';

/** The table every audit event lands in (unqualified). */
export const AUDIT_TABLE = 'audit_log';

/** One `gatehouse.audit_log` row as written and as read back. */
export interface AuditRow {
  /** `YYYY-MM-DD HH:MM:SS.mmm` UTC (see toClickHouseTime). */
  ts: string;
  seq: number;
  actor: string;
  action: string;
  subject: string;
  cost_center: string;
  /** Canonical JSON text of the event details. */
  details: string;
  policy_version: number;
  prev_hash: string;
  hash: string;
}

/** Position of the chain: the last row's seq and hash (seq 0 and "" before the first row). */
export interface AuditChainHead {
  seq: number;
  hash: string;
}

/**
 * SHA-256 over the canonical JSON of every column but `hash` itself. Changing any column of a
 * row, or linking it to another predecessor, changes this value.
 */
export function auditRowHash(row: Omit<AuditRow, 'hash'>): string {
  return sha256Hex(auditRowText(row));
}

/**
 * canonicalJson of the hashed columns, spelled out: the same bytes (keys in code-unit order,
 * JSON.stringify for each value; a test holds the two equal) without sorting keys per row, which
 * is most of what verifying a million rows would otherwise cost.
 */
export function auditRowText(row: Omit<AuditRow, 'hash'>): string {
  const number = (value: number) => {
    if (!Number.isFinite(value)) return canonicalJson(value); // throws the canonical error
    return JSON.stringify(value);
  };
  return (
    `{"action":${JSON.stringify(row.action)},"actor":${JSON.stringify(row.actor)},"cost_center":${JSON.stringify(row.cost_center)},` +
    `"details":${JSON.stringify(row.details)},"policy_version":${number(row.policy_version)},"prev_hash":${JSON.stringify(row.prev_hash)},` +
    `"seq":${number(row.seq)},"subject":${JSON.stringify(row.subject)},"ts":${JSON.stringify(row.ts)}}`
  );
}

export interface HashChainAuditLogOptions {
  client: ClickHouseClient;
  database: string;
  /** Rows go through this writer, so they spool during an outage and replay in order. */
  writer: BatchWriter;
  /**
   * Directory of the DiskSpool the writer uses. Rows still spooled at start carry the newest
   * seq; without this the chain would fork after a restart during an outage.
   */
  spoolDirectory?: string | undefined;
  /**
   * Directory of the write-ahead journal (`AuditJournal`): rows a killed process had not handed to
   * storage yet are queued again at the next start. Without it they are lost with the process.
   */
  journalDirectory?: string | undefined;
  /**
   * The head anchored outside audit_log (signed file, and Redis in distributed mode). A start
   * continues from it when the table ends earlier (its last rows were removed): no seq is reused.
   */
  checkpoints?: AuditCheckpointStore | undefined;
  /** Distributed mode: the chain head lives in Redis and every append is a compare-and-set on it. */
  redis?: Redis | undefined;
  /** @defaultValue "gatehouse:" */
  redisKeyPrefix?: string | undefined;
  now?: (() => Date) | undefined;
  onError?: ((error: unknown) => void) | undefined;
  /** Events waiting for Redis beyond this are dropped and counted. @defaultValue 100000 */
  maxPendingEvents?: number | undefined;
}

// Compare-and-set of the head: succeeds only if nobody appended since the caller read it.
const APPEND_SCRIPT = `
local current = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local seq = tonumber(current[1] or '0')
if seq == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'hash', ARGV[3])
  return {1}
end
return {0, tostring(current[1] or '0'), current[2] or ''}
`;

// Raises the Redis head to what storage holds (a fresh Redis after a restart must not restart at 1).
const SEED_SCRIPT = `
local current = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local seq = tonumber(current[1] or '0')
if seq < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'hash', ARGV[2])
  return {ARGV[1], ARGV[2]}
end
return {tostring(current[1] or '0'), current[2] or ''}
`;

/**
 * AuditSink writing a hash chain into `audit_log`: each row carries the previous row's hash and
 * a strictly increasing `seq`. Embedded mode appends synchronously in process order; with Redis
 * the seq/prev_hash pair is claimed with a Lua compare-and-set so several gateways share one chain.
 */
export class HashChainAuditLog implements AuditSink {
  private readonly options: HashChainAuditLogOptions;
  private headValue: AuditChainHead;
  private pending: Promise<void> = Promise.resolve();
  private pendingCount = 0;
  private droppedEvents = 0;
  private readonly headKey: string;
  private readonly journal: AuditJournal | undefined;

  private constructor(options: HashChainAuditLogOptions, head: AuditChainHead, journal: AuditJournal | undefined) {
    this.options = options;
    this.headValue = head;
    this.journal = journal;
    this.headKey = `${options.redisKeyPrefix ?? 'gatehouse:'}audit:head`;
  }

  /**
   * Queues again the journal's rows that neither ClickHouse nor the spool holds, recovers the head
   * from all three (and seeds Redis), then accepts events.
   */
  static async open(options: HashChainAuditLogOptions): Promise<HashChainAuditLog> {
    const stored = await readStoredHead(options.client, options.database);
    const spooledRows = options.spoolDirectory ? readSpooledRows(options.spoolDirectory) : [];
    const journal = options.journalDirectory ? new AuditJournal(options.journalDirectory) : undefined;
    const lost = journal ? await unstoredRows(options.client, options.database, journal.read(), spooledRows) : [];
    if (lost.length > 0) options.writer.write(AUDIT_TABLE, lost as unknown as Record<string, unknown>[]);
    journal?.reset(lost);
    let head = highest([stored, ...spooledRows, ...lost]) ?? stored;
    const anchored = await options.checkpoints?.highest();
    if (anchored && anchored.seq > head.seq) {
      options.onError?.(new Error(`audit_log ends at seq ${head.seq} but the checkpoint says ${anchored.seq}: rows were removed; continuing after the checkpoint (verify reports the gap)`));
      head = { seq: anchored.seq, hash: anchored.hash };
    }
    const log = new HashChainAuditLog(options, head, journal);
    if (options.redis) {
      const result = (await options.redis.eval(SEED_SCRIPT, 1, log.headKey, String(head.seq), head.hash)) as [string, string];
      head = { seq: Number(result[0]), hash: result[1] };
      log.headValue = head;
    }
    options.checkpoints?.advance(head);
    return log;
  }

  /** Last row appended by this process (embedded mode: the chain head). */
  head(): AuditChainHead {
    return { ...this.headValue };
  }

  stats(): { pendingEvents: number; droppedEvents: number } {
    return { pendingEvents: this.pendingCount, droppedEvents: this.droppedEvents };
  }

  record(event: AuditEvent): void {
    try {
      if (!this.options.redis) {
        const row = this.buildRow(event, this.headValue);
        this.headValue = { seq: row.seq, hash: row.hash };
        this.store(row);
        return;
      }
      if (this.pendingCount >= (this.options.maxPendingEvents ?? 100_000)) {
        this.droppedEvents += 1;
        this.options.onError?.(new Error(`audit: ${event.action} dropped, ${this.pendingCount} events wait for Redis`));
        return;
      }
      this.pendingCount += 1;
      this.pending = this.pending
        .then(() => this.appendDistributed(event))
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.pendingCount -= 1;
        });
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async appendDistributed(event: AuditEvent): Promise<void> {
    const redis = this.options.redis as Redis;
    let guess = this.headValue;
    for (let attempt = 0; ; attempt += 1) {
      const row = this.buildRow(event, guess);
      let result: [number, string?, string?];
      try {
        result = (await redis.eval(APPEND_SCRIPT, 1, this.headKey, String(guess.seq), String(row.seq), row.hash)) as [number, string?, string?];
      } catch (error) {
        // Redis unreachable: keep the event and retry; the chain must not fork by guessing locally.
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * 2 ** Math.min(attempt, 5))));
        continue;
      }
      if (result[0] === 1) {
        this.headValue = { seq: row.seq, hash: row.hash };
        this.store(row);
        return;
      }
      guess = { seq: Number(result[1] ?? 0), hash: result[2] ?? '' };
    }
  }

  /** Journal first (survives a kill), then the batch writer (ClickHouse, or the spool in an outage). */
  private store(row: AuditRow): void {
    if (this.journal) {
      try {
        this.journal.append(row);
        this.journal.rotateIfFull(() => this.options.writer.flush(), (error) => this.options.onError?.(error));
      } catch (error) {
        this.options.onError?.(error);
      }
    }
    this.options.writer.write(AUDIT_TABLE, [row as unknown as Record<string, unknown>]);
    this.options.checkpoints?.advance({ seq: row.seq, hash: row.hash });
  }

  private buildRow(event: AuditEvent, previous: AuditChainHead): AuditRow {
    const partial: Omit<AuditRow, 'hash'> = {
      ts: toClickHouseTime(this.options.now?.() ?? new Date()),
      seq: previous.seq + 1,
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      cost_center: event.cost_center ?? '',
      details: detailsText(event.details),
      policy_version: event.policy_version ?? 0,
      prev_hash: previous.hash,
    };
    return { ...partial, hash: auditRowHash(partial) };
  }

  /** Waits for Redis appends, then flushes the writer (rows are in ClickHouse or the spool). */
  async flush(): Promise<void> {
    await this.pending;
    await this.options.writer.flush();
    await this.options.checkpoints?.writeNow();
  }

  /** The checkpoint copies verify compares the table against (none without a checkpoint store). */
  async anchors(): Promise<AnchoredCheckpoint[]> {
    return (await this.options.checkpoints?.read()) ?? [];
  }
}

/** Canonical JSON of the details; values JSON cannot carry (NaN, bigint) become null/strings rather than losing the event. */
function detailsText(details: Record<string, unknown> | undefined): string {
  try {
    return canonicalJson(details ?? {});
  } catch {
    return canonicalJson(JSON.parse(JSON.stringify(details, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))));
  }
}

async function readStoredHead(client: ClickHouseClient, database: string): Promise<AuditChainHead> {
  const result = await client.query({
    query: `SELECT seq, hash FROM ${database}.${AUDIT_TABLE} ORDER BY seq DESC LIMIT 1`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ seq: number | string; hash: string }>();
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: '' };
}

/** Audit rows waiting in the spool (written during an outage, not yet replayed). */
function readSpooledRows(directory: string): AuditRow[] {
  const rows: AuditRow[] = [];
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith(`-${AUDIT_TABLE}.json`));
  } catch {
    return rows;
  }
  for (const name of names) {
    try {
      const batch = JSON.parse(readFileSync(join(directory, name), 'utf8')) as SpooledBatch;
      for (const row of batch.rows) rows.push({ ...(row as unknown as AuditRow), seq: Number(row.seq), hash: String(row.hash) });
    } catch {
      // unreadable batch: the replay leaves it for an operator; it cannot move the head
    }
  }
  return rows;
}

/** The position of the highest of `rows` (rows or heads), if any. */
function highest(rows: readonly AuditChainHead[]): AuditChainHead | undefined {
  let best: AuditChainHead | undefined;
  for (const row of rows) if (!best || row.seq > best.seq) best = { seq: row.seq, hash: row.hash };
  return best;
}

/** Highest audit row waiting in the spool (written during an outage, not yet replayed). */
export function readSpooledHead(directory: string): AuditChainHead | undefined {
  return highest(readSpooledRows(directory));
}

/**
 * The journal's rows that neither ClickHouse nor the spool holds, in chain order. Looked up by
 * seq, not compared with the head: in distributed mode another gateway's later rows may be stored
 * while this one's were lost with it.
 */
async function unstoredRows(client: ClickHouseClient, database: string, journaled: readonly AuditRow[], spooled: readonly AuditRow[]): Promise<AuditRow[]> {
  if (journaled.length === 0) return [];
  const held = new Set(spooled.map((row) => row.seq));
  const result = await client.query({
    query: `SELECT seq FROM ${database}.${AUDIT_TABLE} WHERE seq IN {seqs:Array(UInt64)}`,
    query_params: { seqs: journaled.map((row) => row.seq) },
    format: 'JSONEachRow',
  });
  for (const row of await result.json<{ seq: number | string }>()) held.add(Number(row.seq));
  const lost = new Map<number, AuditRow>();
  for (const row of journaled) if (!held.has(row.seq)) lost.set(row.seq, row);
  return [...lost.values()].sort((a, b) => a.seq - b.seq);
}
