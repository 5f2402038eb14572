/**
 * Types shared with the optimizer: it creates proposals and triggers automatic rollbacks through
 * functions the process wiring hands it (GovernanceService in shared/governance), so it never
 * imports gateway internals.
 */

/** Where a proposal came from. Rollback proposals made by an admin are `human`. */
export type ProposalSource = 'human' | 'optimizer';

export type ProposalStatus = 'pending' | 'approved' | 'rejected';

export interface CreateProposalInput {
  /** A full policy document (YAML-shaped object), or … */
  document?: unknown;
  /** … a JSON Merge Patch (RFC 7386) applied to the active version. */
  patch?: unknown;
  justification: string;
  author: string;
  /** Who proposed it, as authenticated (admin token name, or approver id after OIDC sign-in); the four-eyes rule compares it with the approver. */
  proposedBy?: string | undefined;
  /** @defaultValue "human" */
  source?: ProposalSource;
  /** One line for humans, e.g. "route turns under 8K input tokens to gpt-5.1-mini 09–17h: saving $3,840/month". */
  summary?: string;
  /** The numbers behind an optimizer proposal (any JSON); shown to approvers as is. */
  math?: unknown;
}

/** A change between two policies, as shown to reviewers. */
export interface ProposalDiff {
  changes: { op: 'add' | 'remove' | 'replace'; path: string; before?: unknown; after?: unknown }[];
  text: string;
  cost_centers: string[];
}

export interface ProposalView {
  id: string;
  status: ProposalStatus;
  source: ProposalSource | (string & {});
  author: string;
  /** Authenticated proposer ("" for proposals made before this was recorded). */
  proposed_by: string;
  justification: string;
  summary: string;
  base_version: number;
  base_hash: string;
  document_hash: string;
  diff: ProposalDiff;
  math: unknown;
  /** The exact string an approver signs (UTF-8, Ed25519, base64). */
  digest: string;
  cost_centers: string[];
  decided_by: string;
  decision_reason: string;
  activated_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface RollbackToParentInput {
  /** Why, for the audit log and the version's justification. */
  reason: string;
  /** Evidence (eval score deltas, sample sizes, …) recorded in the audit event. */
  numbers?: Record<string, unknown>;
  /** @defaultValue "system" */
  actor?: string;
}

export interface RollbackResult {
  /** The new version (a copy of the parent's document, signed by the system key). */
  version: number;
  /** The version that was rolled back. */
  from_version: number;
  /** The version whose document is back in force. */
  restored_version: number;
}

export type CreateProposal = (input: CreateProposalInput) => Promise<ProposalView>;
export type RollbackToParent = (input: RollbackToParentInput) => Promise<RollbackResult>;
