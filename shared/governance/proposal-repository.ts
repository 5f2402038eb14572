import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTimeToIso, toClickHouseTime } from '../clickhouse/clickhouse-time.ts';

const TABLE = 'proposals';

/** A `gatehouse.proposals` row; state changes are new rows for the same id (ReplacingMergeTree). */
export interface ProposalRow {
  id: string;
  status: string;
  source: string;
  author: string;
  /** Authenticated proposer (admin token name or approver id); "" on rows from before migration 0060. */
  proposed_by: string;
  justification: string;
  summary: string;
  base_version: number;
  base_hash: string;
  /** Canonical JSON of the proposed (parsed) document. */
  document: string;
  /** JSON of the PolicyDiff shown at creation. */
  diff: string;
  /** JSON of the optimizer's math ("" when none). */
  math: string;
  digest: string;
  cost_centers: string[];
  decided_by: string;
  decision_reason: string;
  signature: string;
  activated_version: number;
  created_at: string;
  updated_at: string;
}

/** Persistence of proposals; every write is synchronous so the caller can read its own write. */
export class ProposalRepository {
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private lastMillis = 0;

  constructor(client: ClickHouseClient, database: string) {
    this.client = client;
    this.database = database;
  }

  /** Strictly increasing per process, so a state change always replaces the row before it. */
  timestamp(now = new Date()): string {
    this.lastMillis = Math.max(now.getTime(), this.lastMillis + 1);
    return toClickHouseTime(new Date(this.lastMillis));
  }

  async save(row: ProposalRow): Promise<void> {
    await this.client.insert({
      table: `${this.database}.${TABLE}`,
      values: [row],
      format: 'JSONEachRow',
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
  }

  async get(id: string): Promise<ProposalRow | undefined> {
    const rows = await this.select('WHERE id = {id:String}', { id }, 1);
    return rows[0];
  }

  async list(status?: string, limit = 500): Promise<ProposalRow[]> {
    return status === undefined ? this.select('', {}, limit) : this.select('WHERE status = {status:String}', { status }, limit);
  }

  private async select(where: string, params: Record<string, unknown>, limit: number): Promise<ProposalRow[]> {
    const result = await this.client.query({
      query: `SELECT * EXCEPT (created_at, updated_at), toString(created_at) AS created_at, toString(updated_at) AS updated_at
              FROM ${this.database}.${TABLE} FINAL ${where} ORDER BY created_at DESC, id LIMIT {limit:UInt32}`,
      query_params: { ...params, limit },
      format: 'JSONEachRow',
    });
    return (await result.json<ProposalRow>()).map((row) => ({
      ...row,
      base_version: Number(row.base_version),
      activated_version: Number(row.activated_version),
      created_at: clickHouseTimeToIso(row.created_at),
      updated_at: clickHouseTimeToIso(row.updated_at),
    }));
  }
}
