/**
 * A stored policy version as both the gateway (verification, governance) and the optimizer (its
 * rollback guard follows a rule back through the versions) read it.
 */
/** A `gatehouse.policy_versions` row (latest state of one version). */
export interface PolicyVersionRow {
  version: number;
  hash: string;
  parent_hash: string;
  /** Canonical JSON of the parsed policy document. */
  document: string;
  /** Base64 Ed25519 signature of the approval digest (proposal id, parent hash, hash). */
  signature: string;
  /** Who produced `signature`: an approver id of the parent version, or the system key id. */
  signed_by: string;
  approved_by: string;
  proposal_id: string;
  justification: string;
  status: 'active' | 'rolled_back' | (string & {});
  created_at: string;
  updated_at: string;
}

/** The parent of `row`: the newest older version whose hash is `row.parent_hash`. */
export function findParent(row: PolicyVersionRow, rows: Map<number, PolicyVersionRow>): PolicyVersionRow | undefined {
  let best: PolicyVersionRow | undefined;
  for (const candidate of rows.values()) {
    if (candidate.version < row.version && candidate.hash === row.parent_hash && (!best || candidate.version > best.version)) best = candidate;
  }
  return best;
}

