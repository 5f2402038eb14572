import type { PolicyDocument } from '../policy/policy-schema.ts';
import { parsePolicyDocument } from '../config/load-config.ts';
import { sha256Hex } from '../signing/hash.ts';
import { verifyText } from '../signing/ed25519.ts';
import { approvalDigest } from '../governance/approval-digest.ts';
import { diffPolicies, scopeRefusal } from '../governance/policy-diff.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { isFirstApproversChange } from '../governance/first-approvers.ts';
import { findParent, type PolicyVersionRow } from '../governance/policy-version-row.ts';

export type { PolicyVersionRow };
export { findParent };

export interface VerifiedVersion {
  row: PolicyVersionRow;
  document: PolicyDocument;
}

export interface VerifyContext {
  /** Every version row by version number. */
  rows: Map<number, PolicyVersionRow>;
  systemKeyId: string;
  systemPublicKeyPem: string;
  /** Verified results, kept across loads so only new rows cost a signature check. */
  cache: Map<string, VerifiedVersion>;
}

/** The fields a verification depends on: any edit to them invalidates a cached result. */
export function versionFingerprint(row: PolicyVersionRow): string {
  return sha256Hex([row.version, row.hash, row.parent_hash, row.signature, row.signed_by, row.proposal_id, sha256Hex(row.document)].join('\n'));
}

/** Thrown with a reason an operator can act on when a stored version fails verification. */
export class PolicyVerificationError extends Error {
  readonly version: number;
  constructor(version: number, message: string) {
    super(`policy version ${version}: ${message}`);
    this.name = 'PolicyVerificationError';
    this.version = version;
  }
}

/**
 * Verifies a version and, recursively, its parents back to the bootstrap version: the stored
 * document hashes to `hash`; the signature over the approval digest verifies with the signer's key
 * (the system key, or an approver listed in the parent version whose scopes cover the change, or, for
 * the first approvers, one listed in the version itself: shared/governance/first-approvers.ts).
 * Throws PolicyVerificationError naming the first version that fails.
 */
export function verifyPolicyVersion(row: PolicyVersionRow, context: VerifyContext, depth = 0): VerifiedVersion {
  const fingerprint = versionFingerprint(row);
  const cached = context.cache.get(fingerprint);
  if (cached) return cached;
  if (depth > 100_000) throw new PolicyVerificationError(row.version, 'parent chain does not end');
  if (sha256Hex(row.document) !== row.hash) throw new PolicyVerificationError(row.version, 'document does not match its hash (altered after signing)');
  let document: PolicyDocument;
  try {
    document = parsePolicyDocument(JSON.parse(row.document), `policy version ${row.version}`);
  } catch (error) {
    throw new PolicyVerificationError(row.version, `document is not a valid policy: ${(error as Error).message}`);
  }
  if (!row.signature) throw new PolicyVerificationError(row.version, 'unsigned');
  const digest = approvalDigest({ proposalId: row.proposal_id, baseHash: row.parent_hash, documentHash: row.hash });
  let parent: VerifiedVersion | undefined;
  if (row.parent_hash !== '') {
    const parentRow = findParent(row, context.rows);
    if (!parentRow) throw new PolicyVerificationError(row.version, `parent ${row.parent_hash.slice(0, 12)}… not found`);
    parent = verifyPolicyVersion(parentRow, context, depth + 1);
  } else if (row.signed_by !== context.systemKeyId) {
    throw new PolicyVerificationError(row.version, 'a root version must be signed by the system key');
  }
  if (row.signed_by === context.systemKeyId) {
    if (!verifyText(context.systemPublicKeyPem, digest, row.signature)) throw new PolicyVerificationError(row.version, 'system signature does not verify');
    if (parent) checkSystemRestore(row, document, parent, context, depth);
  } else {
    // First approvers: while the parent lists none, a version that only adds approvers is signed by one of them.
    const firstApprovers = parent !== undefined && isFirstApproversChange(parent.document, document);
    const approver = (firstApprovers ? document : parent?.document)?.approvers.find((candidate) => candidate.id === row.signed_by);
    if (!approver || !parent) throw new PolicyVerificationError(row.version, `signer "${row.signed_by}" is not an approver of the parent version`);
    if (!verifyText(approver.public_key, digest, row.signature)) throw new PolicyVerificationError(row.version, `signature of "${row.signed_by}" does not verify`);
    const refusal = firstApprovers ? undefined : scopeRefusal(approver.scopes, diffPolicies(parent.document, document).cost_centers);
    if (refusal) throw new PolicyVerificationError(row.version, `signer "${row.signed_by}" was out of scope: ${refusal}`);
  }
  const verified = { row, document };
  context.cache.set(fingerprint, verified);
  return verified;
}

/**
 * The system key is no authority of its own: below the root it may only restore a document that
 * verified before (an approver-signed version, the bootstrap root, or an earlier restore of one),
 * or take routing rules out of its parent (the rollback guard reverting one optimizer rule, which
 * can only send traffic back to the model the client asked for). Anyone who stole the key and
 * writes `policy_versions` can therefore not widen an allow-list, drop a budget or add a key.
 */
function checkSystemRestore(row: PolicyVersionRow, document: PolicyDocument, parent: VerifiedVersion, context: VerifyContext, depth: number): void {
  for (const earlier of context.rows.values()) {
    if (earlier.version >= row.version || earlier.hash !== row.hash) continue;
    try {
      verifyPolicyVersion(earlier, context, depth + 1);
      return;
    } catch (error) {
      if (!(error instanceof PolicyVerificationError)) throw error;
    }
  }
  if (onlyRemovesRules(parent.document, document)) return;
  throw new PolicyVerificationError(
    row.version,
    'signed by the system key but its document is not an earlier approved version (the system key may only restore approved documents or remove optimizer rules); an approver must sign new documents',
  );
}

/** True when `child` is `parent` with some routing rules taken out and nothing else changed. */
function onlyRemovesRules(parent: PolicyDocument, child: PolicyDocument): boolean {
  if (canonicalJson({ ...parent, rules: [] }) !== canonicalJson({ ...child, rules: [] })) return false;
  const remaining = parent.rules.map((rule) => canonicalJson(rule));
  let index = 0;
  for (const rule of child.rules) {
    const text = canonicalJson(rule);
    while (index < remaining.length && remaining[index] !== text) index += 1;
    if (index === remaining.length) return false;
    index += 1;
  }
  return child.rules.length < parent.rules.length;
}
