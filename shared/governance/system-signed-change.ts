import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../audit/audit-event.ts';
import type { ActivePolicy } from '../policy/active-policy.ts';
import type { PolicyDocument } from '../policy/policy-schema.ts';
import type { PolicyStore } from '../policy-store/policy-store.ts';
import { singleCostCenter } from './proposal-view.ts';

/** An automatic change of the rollback guard: what goes in force instead of `current`, and why. */
export interface SystemSignedChange {
  current: ActivePolicy;
  document: PolicyDocument;
  reason: string;
  actor: string;
  /** Marks `current` `rolled_back` in the same step (a rollback to the parent; not a rule revert). */
  rollBackVersion?: number | undefined;
  /** Cost centers the change touches (audited; one alone goes on the events' `cost_center`). */
  costCenters: string[];
  /** The `policy.rolled_back` event's details, once the new version and its proposal id are known. */
  rolledBackDetails(activated: ActivePolicy, proposalId: string): Record<string, unknown>;
}

/**
 * Activates `change.document` signed by the system key (allowed only to restore what humans
 * approved: the store verifies that), and audits `policy.rolled_back` then `policy.activated`.
 */
export async function activateSystemSignedChange(store: PolicyStore, audit: AuditSink, change: SystemSignedChange): Promise<ActivePolicy> {
  const { current, document } = change;
  const proposalId = `rollback_${randomBytes(8).toString('hex')}`;
  const { signature, signedBy } = store.systemSign(proposalId, current.hash, document);
  const activated = await store.activate({
    document,
    baseHash: current.hash,
    proposalId,
    signature,
    signedBy,
    approvedBy: signedBy,
    justification: change.reason,
    rollBackVersion: change.rollBackVersion,
  });
  const costCenter = singleCostCenter(change.costCenters);
  audit.record({ actor: change.actor, action: 'policy.rolled_back', subject: `policy:${current.version}`, ...costCenter, details: change.rolledBackDetails(activated, proposalId), policy_version: activated.version });
  audit.record({ actor: change.actor, action: 'policy.activated', subject: `policy:${activated.version}`, ...costCenter, details: { version: activated.version, hash: activated.hash, parent_hash: activated.parentHash, proposal_id: proposalId, approved_by: signedBy, previous_version: current.version }, policy_version: activated.version });
  return activated;
}
