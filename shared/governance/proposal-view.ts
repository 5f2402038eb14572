import type { PolicyDocument } from '../policy/policy-schema.ts';
import { parsePolicyDocument } from '../config/load-config.ts';
import { sha256Hex } from '../signing/hash.ts';
import type { ProposalDiff, ProposalView } from './proposal-types.ts';
import type { ProposalRow } from './proposal-repository.ts';
import { diffPolicies } from './policy-diff.ts';

/** Stored policy texts parsed once per hash (listing proposals re-reads the same few documents). */
export class ParsedPolicyCache {
  private readonly documents = new Map<string, PolicyDocument>();

  parsed(text: string): PolicyDocument {
    const hash = sha256Hex(text);
    let document = this.documents.get(hash);
    if (!document) {
      document = parsePolicyDocument(JSON.parse(text), 'stored policy');
      if (this.documents.size > 1000) this.documents.clear();
      this.documents.set(hash, document);
    }
    return document;
  }
}

/**
 * A proposal as reviewers see it. The diff is recomputed from the stored base version and proposed
 * document, not read from the `diff` column: an edited `diff` row must not make an approver sign
 * something other than what they were shown. (The stored diff is used only if the base version is gone.)
 */
export function proposalView(row: ProposalRow, cache: ParsedPolicyCache, base?: PolicyDocument): ProposalView {
  let diff = JSON.parse(row.diff) as ProposalDiff;
  if (base) {
    try {
      diff = diffPolicies(base, cache.parsed(row.document));
    } catch {
      // an unparsable stored document keeps the stored diff; approval re-parses and fails loudly
    }
  }
  return {
    id: row.id,
    status: row.status as ProposalView['status'],
    source: row.source,
    author: row.author,
    proposed_by: row.proposed_by ?? '',
    justification: row.justification,
    summary: row.summary,
    base_version: row.base_version,
    base_hash: row.base_hash,
    document_hash: sha256Hex(row.document),
    diff,
    math: row.math === '' ? null : (JSON.parse(row.math) as unknown),
    digest: row.digest,
    cost_centers: row.cost_centers,
    decided_by: row.decided_by,
    decision_reason: row.decision_reason,
    activated_version: row.activated_version > 0 ? row.activated_version : null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The version a manual-rollback proposal restores (proposeRollback marks it in `math`), if it is one. */
export function rollbackTarget(row: ProposalRow): number | undefined {
  if (row.math === '') return undefined;
  const math = JSON.parse(row.math) as { rollback_to_version?: unknown } | null;
  return typeof math?.rollback_to_version === 'number' && row.summary.startsWith('Roll back to version') ? math.rollback_to_version : undefined;
}

/** `{ cost_center }` for audit events of a change confined to one cost center, else nothing. */
export function singleCostCenter(centers: readonly string[]): { cost_center?: string } {
  return centers.length === 1 && centers[0] !== '*' ? { cost_center: centers[0] } : {};
}
