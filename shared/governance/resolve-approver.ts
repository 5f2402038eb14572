import type { PolicyDocument } from '../policy/policy-schema.ts';
import { firstApproversRefusal } from './first-approvers.ts';
import { forbidden, invalid } from './governance-errors.ts';
import { verifyOidcSubject } from './verify-oidc-approver.ts';

export type Approver = PolicyDocument['approvers'][number];

/** Who approves, as the approve request says it (see GovernanceService.approveProposal). */
export interface ApproverClaim {
  /** Who calls (the admin token's name and role); the first-approvers rule needs an `admin`. */
  caller?: { name: string; role: string } | undefined;
  /** Approver id from the active policy's `approvers` (optional when an OIDC ID token names one). */
  approver?: string | undefined;
  /** Required when the policy configures `oidc`: the approver's ID token; its subject must map to the approver. */
  id_token?: string | undefined;
}

export const FIRST_APPROVERS_RULE = 'the active policy listed no approvers; an admin approved a change that only adds approvers, signed by one of them';

/** The approver of the active policy the claim names: by OIDC subject when the policy has `oidc`, else by id. */
export async function resolveApprover(claim: ApproverClaim, policy: PolicyDocument): Promise<Approver> {
  if (policy.oidc) {
    if (!claim.id_token) throw forbidden('this policy requires an OIDC ID token (id_token) from the approver');
    let subject: string;
    try {
      subject = await verifyOidcSubject(claim.id_token, policy.oidc);
    } catch (error) {
      throw forbidden(`the OIDC ID token does not verify: ${(error as Error).message}`);
    }
    const approver = policy.approvers.find((candidate) => candidate.oidc_subject === subject);
    if (!approver) throw forbidden(`OIDC subject ${subject} is not an approver in the active policy`);
    if (claim.approver !== undefined && claim.approver !== approver.id) throw forbidden(`OIDC subject ${subject} is approver ${approver.id}, not ${claim.approver}`);
    return approver;
  }
  if (!claim.approver) throw invalid('approver is required', 'approver');
  const approver = policy.approvers.find((candidate) => candidate.id === claim.approver);
  if (!approver) throw forbidden(`"${claim.approver}" is not an approver in the active policy`);
  return approver;
}

/**
 * The approver of a first-approvers change (first-approvers.ts): the caller is an admin, the
 * proposal only adds approvers, and `claim.approver` is one it adds (whose key must sign).
 */
export function firstApproverOf(id: string, claim: ApproverClaim, current: PolicyDocument, proposed: PolicyDocument): Approver {
  const refusal = firstApproversRefusal(current, proposed);
  if (refusal) throw forbidden(`proposal ${id} cannot be approved: ${refusal}`);
  // Fails closed: a caller that says nobody authenticated (a future path, a test) does not pass as an admin.
  if (claim.caller?.role !== 'admin') {
    const who = claim.caller ? `${claim.caller.name} has role ${claim.caller.role}` : 'no admin token was presented';
    throw forbidden(`the first approvers can only be approved with an admin token (${who})`);
  }
  const added = proposed.approvers.map((approver) => approver.id);
  if (!claim.approver) throw invalid(`approver is required: one of the approvers proposal ${id} adds (${added.join(', ')}) signs with their new key`, 'approver');
  const approver = proposed.approvers.find((candidate) => candidate.id === claim.approver);
  if (!approver) throw forbidden(`"${claim.approver}" is not among the approvers proposal ${id} adds (${added.join(', ')}); one of them signs with their new key`);
  return approver;
}
