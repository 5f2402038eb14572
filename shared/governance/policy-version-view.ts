import type { PolicyVersionRow } from './policy-version-row.ts';

/** Status of a policy version (CONTRACT.md, second round). */
export type PolicyVersionStatus = 'active' | 'superseded' | 'rolled_back' | 'refused';

/** One version for `GET /admin/policy/versions` and `policy history`. */
export interface PolicyVersionView {
  version: number;
  hash: string;
  parent_hash: string;
  status: PolicyVersionStatus;
  /** True for the version being served (the one with status `active`). */
  active: boolean;
  signed_by: string;
  approved_by: string;
  proposal_id: string;
  justification: string;
  created_at: string;
  updated_at: string;
}

/**
 * What a version is now. Storage only distinguishes `active` (written so, never rewritten) from
 * `rolled_back`; a version a newer one replaced is `superseded`, and one newer than the version in
 * force (its signature chain failed to verify, so it is not served) is `refused`.
 */
export function versionStatus(row: PolicyVersionRow, activeVersion: number): PolicyVersionStatus {
  if (row.status === 'rolled_back') return 'rolled_back';
  if (row.status === 'refused') return 'refused';
  if (row.version === activeVersion) return 'active';
  return row.version < activeVersion ? 'superseded' : 'refused';
}

export function versionView(row: PolicyVersionRow, activeVersion: number): PolicyVersionView {
  const iso = (text: string) => (text.includes('T') ? text : `${text.replace(' ', 'T')}Z`);
  return {
    version: row.version,
    hash: row.hash,
    parent_hash: row.parent_hash,
    status: versionStatus(row, activeVersion),
    active: row.version === activeVersion,
    signed_by: row.signed_by,
    approved_by: row.approved_by,
    proposal_id: row.proposal_id,
    justification: row.justification,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
