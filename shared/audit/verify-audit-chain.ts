import type { ClickHouseClient } from '@clickhouse/client';
import { AUDIT_TABLE, auditRowHash, type AuditRow } from './hash-chain-audit-log.ts';
import type { AnchoredCheckpoint } from './audit-checkpoint.ts';

/** The first row where the chain does not hold, and why. */
export interface BrokenAuditRow {
  seq: number;
  ts: string;
  action: string;
  /**
   * `hash_mismatch`: the row's content no longer matches its hash (edited row);
   * `prev_hash_mismatch`: it does not link to the row before (inserted, removed or re-hashed row);
   * `seq_gap` / `duplicate_seq`: a row is missing or doubled;
   * `checkpoint_mismatch`: the row at a checkpoint's seq is not the row the checkpoint signed
   * (the chain was rewritten, or the seq reused after rows were removed);
   * `tail_truncated`: the table ends before a checkpoint's seq (its last rows were removed).
   */
  reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' | 'duplicate_seq' | 'checkpoint_mismatch' | 'tail_truncated';
  expected: string;
  actual: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Rows checked. */
  rows: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Hash of the last row checked (the chain head when ok). */
  headHash: string;
  firstBroken: BrokenAuditRow | null;
  /**
   * What the table was compared against besides itself: each checkpoint kept outside audit_log,
   * where it was read from, and whether the table agrees with it. Empty = only the chain's own
   * links were checked (then removed last rows cannot be told from a short log).
   */
  anchors: AnchorComparison[];
}

export interface AnchorComparison {
  source: string;
  seq: number;
  hash: string;
  ts: string;
  /** `matched`: the row at `seq` has `hash`; `pending`: rows up to `seq` still wait in the spool. */
  status: 'matched' | 'mismatch' | 'missing' | 'pending' | 'invalid_signature';
}

export interface VerifyAuditChainOptions {
  client: ClickHouseClient;
  database: string;
  /** Rows read per query. @defaultValue 50000 */
  pageRows?: number;
  /** Checkpoints of the head kept outside the table (HashChainAuditLog.anchors()). */
  anchors?: readonly AnchoredCheckpoint[];
  /** Highest seq still waiting in this process's spool (not in the table yet, not removed). */
  spooledSeq?: number | undefined;
}

/**
 * Walks `audit_log` in seq order and recomputes every hash. The first row is trusted as the
 * anchor (retention may have removed older rows); every later row must link to its predecessor.
 */
export async function verifyAuditChain(options: VerifyAuditChainOptions): Promise<AuditVerification> {
  const pageRows = options.pageRows ?? 50_000;
  const anchors = (options.anchors ?? []).map((anchor) => ({ ...anchor, comparison: comparisonOf(anchor) }));
  const bySeq = new Map<number, ComparedAnchor[]>();
  for (const anchor of anchors) {
    if (anchor.comparison.status === 'invalid_signature') continue;
    bySeq.set(anchor.checkpoint.seq, [...(bySeq.get(anchor.checkpoint.seq) ?? []), anchor]);
  }
  const verification: AuditVerification = { ok: true, rows: 0, firstSeq: null, lastSeq: null, headHash: '', firstBroken: null, anchors: anchors.map((anchor) => anchor.comparison) };
  let previous: { seq: number; hash: string } | undefined;
  // Pages are ranges of seq, read in the table's own order (ORDER BY seq): each page reads only its
  // own granules, so the walk is linear. (LIMIT pages sorted by anything else sorted the whole rest
  // of the table per page: 1M rows took minutes.)
  const bounds = await options.client.query({ query: `SELECT min(seq) AS low, max(seq) AS high, count() AS n FROM ${options.database}.${AUDIT_TABLE}`, format: 'JSONEachRow' });
  const [range] = await bounds.json<{ low: string | number; high: string | number; n: string | number }>();
  const high = Number(range?.n ?? 0) > 0 ? Number(range?.high) : -1;
  for (let from = Number(range?.n ?? 0) > 0 ? Number(range?.low) : 0; from <= high; from += pageRows) {
    const result = await options.client.query({
      query: `SELECT toString(ts) AS ts, seq, actor, action, subject, cost_center, details, policy_version, prev_hash, hash
              FROM ${options.database}.${AUDIT_TABLE} WHERE seq >= {from:UInt64} AND seq < {to:UInt64} ORDER BY seq`,
      query_params: { from, to: from + pageRows },
      format: 'JSONEachRow',
    });
    const rows = await result.json<AuditRow>();
    for (const raw of rows) {
      const row = { ...raw, seq: Number(raw.seq), policy_version: Number(raw.policy_version) };
      const broken = checkRow(row, previous) ?? checkAnchor(row, bySeq.get(row.seq));
      verification.rows += 1;
      verification.firstSeq ??= row.seq;
      verification.lastSeq = row.seq;
      verification.headHash = row.hash;
      if (broken) {
        verification.ok = false;
        verification.firstBroken = broken;
        return verification;
      }
      previous = { seq: row.seq, hash: row.hash };
    }
  }
  return checkTail(verification, anchors, options.spooledSeq ?? 0);
}

type ComparedAnchor = AnchoredCheckpoint & { comparison: AnchorComparison };

function comparisonOf(anchor: AnchoredCheckpoint): AnchorComparison {
  const { seq, hash, ts } = anchor.checkpoint;
  return { source: anchor.source, seq, hash, ts, status: seq < 0 ? 'invalid_signature' : 'missing' };
}

function checkAnchor(row: AuditRow, anchors: readonly ComparedAnchor[] | undefined): BrokenAuditRow | null {
  for (const anchor of anchors ?? []) {
    if (row.hash === anchor.checkpoint.hash) {
      anchor.comparison.status = 'matched';
      continue;
    }
    anchor.comparison.status = 'mismatch';
    return { seq: row.seq, ts: row.ts, action: row.action, reason: 'checkpoint_mismatch', expected: `${anchor.checkpoint.hash} (${anchor.source})`, actual: row.hash };
  }
  return null;
}

/** After the walk: every checkpoint's seq must have been reached (or still wait in the spool). */
function checkTail(verification: AuditVerification, anchors: readonly ComparedAnchor[], spooledSeq: number): AuditVerification {
  const lastSeq = verification.lastSeq ?? 0;
  for (const anchor of anchors) {
    const { comparison } = anchor;
    if (comparison.status === 'invalid_signature') {
      verification.ok = false;
      verification.firstBroken ??= { seq: comparison.seq, ts: comparison.ts, action: '', reason: 'checkpoint_mismatch', expected: 'a checkpoint signed by the system key', actual: anchor.source };
      continue;
    }
    if (comparison.status !== 'missing') continue;
    if (comparison.seq <= spooledSeq || comparison.seq === 0) {
      comparison.status = comparison.seq === 0 ? 'matched' : 'pending';
      continue;
    }
    if (comparison.seq <= lastSeq) continue; // a seq inside the walk that no row had: reported as a gap already
    verification.ok = false;
    verification.firstBroken ??= {
      seq: lastSeq + 1,
      ts: comparison.ts,
      action: '',
      reason: 'tail_truncated',
      expected: `rows up to seq ${comparison.seq} (${anchor.source}, taken ${comparison.ts})`,
      actual: verification.lastSeq === null ? 'no rows' : `the table ends at seq ${lastSeq}`,
    };
  }
  return verification;
}

function checkRow(row: AuditRow, previous: { seq: number; hash: string } | undefined): BrokenAuditRow | null {
  const base = { seq: row.seq, ts: row.ts, action: row.action };
  const recomputed = auditRowHash(row);
  if (recomputed !== row.hash) return { ...base, reason: 'hash_mismatch', expected: recomputed, actual: row.hash };
  if (!previous) return null;
  if (row.seq === previous.seq) return { ...base, reason: 'duplicate_seq', expected: String(previous.seq + 1), actual: String(row.seq) };
  if (row.seq !== previous.seq + 1) return { ...base, reason: 'seq_gap', expected: String(previous.seq + 1), actual: String(row.seq) };
  if (row.prev_hash !== previous.hash) return { ...base, reason: 'prev_hash_mismatch', expected: previous.hash, actual: row.prev_hash };
  return null;
}
