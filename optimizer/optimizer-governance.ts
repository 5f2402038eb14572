import type { AuditSink } from '../shared/audit/audit-event.ts';
import type { CreateProposalInput, ProposalView, RollbackResult, RollbackToParentInput } from '../shared/governance/proposal-types.ts';
import type { PolicyVersionRow } from '../shared/governance/policy-version-row.ts';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';

/**
 * What the optimizer needs of governance: the active version and the stored ones, proposals to file
 * and reject, and the two automatic rollbacks. Declared here so the optimizer does not import the
 * gateway's governance module (DESIGN: services do not import each other's internals); the running
 * governance (shared/governance/start-governance.ts) satisfies it as it is.
 */
export interface OptimizerGovernance {
  store: {
    current(): { version: number; hash: string; document: PolicyDocument };
    versions(): Promise<PolicyVersionRow[]>;
  };
  service: {
    listProposals(status?: string): Promise<ProposalView[]>;
    rejectProposal(id: string, input: { reason: string; actor: string }): Promise<unknown>;
    createProposal(input: CreateProposalInput): Promise<ProposalView>;
    rollbackToParent(input: RollbackToParentInput): Promise<RollbackResult>;
    revertRule(input: RollbackToParentInput & { ruleId: string }): Promise<RollbackResult>;
  };
  audit: Pick<AuditSink, 'record'>;
}
