import type { ClickHouseClient } from '@clickhouse/client';
import { toClickHouseTime } from '../clickhouse/clickhouse-time.ts';
import type { PolicyVersionRow } from './policy-version-verify.ts';

const TABLE = 'policy_versions';

/**
 * The rows of `<database>.policy_versions`: what a PolicyStore reads, fingerprints and appends.
 * Versions are append-only; a status change is a newer row of the same version (FINAL keeps it).
 */
export class PolicyVersionTable {
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly now: () => Date;
  private lastTimeMillis = 0;

  constructor(options: { client: ClickHouseClient; database: string; now?: (() => Date) | undefined }) {
    this.client = options.client;
    this.database = options.database;
    this.now = options.now ?? (() => new Date());
  }

  /** `database.policy_versions`, for messages. */
  get name(): string {
    return `${this.database}.${TABLE}`;
  }

  /** Every version (latest state of each row), oldest first. */
  async versions(): Promise<PolicyVersionRow[]> {
    const result = await this.client.query({
      query: `SELECT version, hash, parent_hash, document, signature, signed_by, approved_by, proposal_id, justification, status,
                     toString(created_at) AS created_at, toString(updated_at) AS updated_at
              FROM ${this.database}.${TABLE} FINAL ORDER BY version`,
      format: 'JSONEachRow',
    });
    return (await result.json<PolicyVersionRow>()).map((row) => ({ ...row, version: Number(row.version) }));
  }

  async isEmpty(): Promise<boolean> {
    const result = await this.client.query({ query: `SELECT count() AS n FROM ${this.database}.${TABLE}`, format: 'JSONEachRow' });
    const [row] = await result.json<{ n: number | string }>();
    return Number(row?.n ?? 0) === 0;
  }

  /** A cheap digest of every row's latest state: a poll re-reads only when it changes. */
  async fingerprint(): Promise<string> {
    const result = await this.client.query({
      query: `SELECT count() AS n, toString(groupBitXor(cityHash64(version, hash, parent_hash, document, signature, signed_by, approved_by, proposal_id, status, updated_at))) AS x
              FROM ${this.database}.${TABLE} FINAL`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ n: number | string; x: string }>();
    return `${row?.n ?? 0}:${row?.x ?? ''}`;
  }

  async insert(rows: PolicyVersionRow[], deduplicationToken?: string): Promise<void> {
    await this.client.insert({
      table: `${this.database}.${TABLE}`,
      values: rows,
      format: 'JSONEachRow',
      clickhouse_settings: {
        date_time_input_format: 'best_effort',
        ...(deduplicationToken ? { insert_deduplication_token: deduplicationToken, insert_deduplicate: 1 } : {}),
      },
    });
  }

  /** Strictly increasing per process, so a status row written in the same millisecond still wins under FINAL. */
  timestamp(): string {
    const nowMillis = Math.max(this.now().getTime(), this.lastTimeMillis + 1);
    this.lastTimeMillis = nowMillis;
    return toClickHouseTime(new Date(nowMillis));
  }
}
