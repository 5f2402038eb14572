import type { PolicyDocument } from '../policy/policy-schema.ts';
import { canonicalJson } from '../signing/canonical-json.ts';

/**
 * The first-approvers rule (docs/GOVERNANCE.md, "From a fresh install to the first approver").
 *
 * A fresh install's policy lists no approvers, and every change needs an approver's signature, so
 * without a way in nobody could ever approve anything. While the policy in force lists no approver,
 * a change that does nothing but add approvers may be approved by an `admin` token, signed by one of
 * the approvers it adds (proving the key pair works before it becomes the only way in). The version
 * verifies from the chain alone: its signer is listed in its own document, and its parent had no
 * approvers. Once one approver exists the rule no longer applies.
 */
export function isFirstApproversChange(parent: PolicyDocument, child: PolicyDocument): boolean {
  if (parent.approvers.length > 0 || child.approvers.length === 0) return false;
  return canonicalJson({ ...parent, approvers: [] }) === canonicalJson({ ...child, approvers: [] });
}

/** Why a proposal does not qualify for the first-approvers rule, or undefined when it does. */
export function firstApproversRefusal(parent: PolicyDocument, child: PolicyDocument): string | undefined {
  if (parent.approvers.length > 0) return undefined;
  if (child.approvers.length === 0) return 'the active policy lists no approvers and this proposal adds none: propose adding approvers first (gatehouse approver keygen)';
  if (!isFirstApproversChange(parent, child)) {
    return 'the active policy lists no approvers, so only a proposal that adds approvers and changes nothing else can be approved (first-approvers rule); propose the approvers alone first';
  }
  return undefined;
}
