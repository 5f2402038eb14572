import type { ClickHouseClient } from '@clickhouse/client';
import { AUDIT_TABLE, type AuditRow } from './hash-chain-audit-log.ts';
import { clickHouseTimeToIso } from '../clickhouse/clickhouse-time.ts';

/**
 * One exported audit event, the line format of `GET /admin/audit` (JSON Lines). Field names are
 * stable: SIEM parsers key on them. `details` is the parsed object; `details_text` is the exact
 * text the hash covers, so an exported line can be re-verified offline.
 */
export interface AuditExportLine {
  ts: string;
  seq: number;
  actor: string;
  action: string;
  subject: string;
  cost_center: string;
  policy_version: number;
  details: unknown;
  details_text: string;
  prev_hash: string;
  hash: string;
}

export interface ReadAuditOptions {
  client: ClickHouseClient;
  database: string;
  /** ISO 8601 time: rows at or after it. */
  since?: string | undefined;
  /** Rows with seq greater than this. */
  afterSeq?: number | undefined;
  action?: string | undefined;
  /** @defaultValue 10000 */
  limit?: number | undefined;
}

/** Reads audit rows in seq order. */
export async function readAuditRows(options: ReadAuditOptions): Promise<AuditRow[]> {
  const conditions: string[] = [];
  const params: Record<string, unknown> = { limit: options.limit ?? 10_000 };
  if (options.since !== undefined) {
    const since = new Date(options.since);
    if (Number.isNaN(since.getTime())) throw new RangeError(`since: not a date: ${options.since}`);
    // Qualified: the select list aliases toString(ts) AS ts, which would shadow the column here.
    conditions.push(`audit_log.ts >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')`);
    params.since_ms = since.getTime();
  }
  if (options.afterSeq !== undefined) {
    conditions.push('seq > {after_seq:UInt64}');
    params.after_seq = options.afterSeq;
  }
  if (options.action !== undefined) {
    conditions.push('action = {action:String}');
    params.action = options.action;
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await options.client.query({
    query: `SELECT toString(ts) AS ts, seq, actor, action, subject, cost_center, details, policy_version, prev_hash, hash
            FROM ${options.database}.${AUDIT_TABLE} ${where} ORDER BY seq LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await result.json<AuditRow>()).map((row) => ({ ...row, seq: Number(row.seq), policy_version: Number(row.policy_version) }));
}

export function toAuditExportLine(row: AuditRow): AuditExportLine {
  let details: unknown;
  try {
    details = JSON.parse(row.details);
  } catch {
    details = row.details;
  }
  return {
    ts: clickHouseTimeToIso(row.ts),
    seq: row.seq,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    cost_center: row.cost_center,
    policy_version: row.policy_version,
    details,
    details_text: row.details,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
