/** Everything an approval binds together. */
export interface ApprovalDigestInput {
  proposalId: string;
  /** Hash of the active version the proposal was made against ("" for the bootstrap version). */
  baseHash: string;
  /** SHA-256 of the canonical JSON of the proposed document. */
  documentHash: string;
}

/**
 * The exact text an approver signs (UTF-8, Ed25519, base64 signature). It names the proposal,
 * the version it applies to and the document it produces, so a signature cannot be replayed on
 * another proposal, on the same change against a different base, or on an altered document.
 */
export function approvalDigest(input: ApprovalDigestInput): string {
  return [
    'gatehouse-policy-approval/v1',
    `proposal: ${input.proposalId}`,
    `base: ${input.baseHash || '-'}`,
    `document: ${input.documentHash}`,
  ].join('\n');
}
