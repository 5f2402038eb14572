import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { AuditSink } from '../audit/audit-event.ts';
import type { PolicyDocument } from '../policy/policy-schema.ts';
import type { CreateProposalInput, ProposalView, RollbackResult, RollbackToParentInput } from './proposal-types.ts';
import { ConfigError, parsePolicyDocument } from '../config/load-config.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { sha256Hex } from '../signing/hash.ts';
import { verifyText } from '../signing/ed25519.ts';
import { GatewayError } from '../../gateway/errors/gateway-error.ts';
import type { ActivePolicy } from '../policy/active-policy.ts';
import { PolicyStore, StalePolicyError } from '../policy-store/policy-store.ts';
import { PolicyVerificationError } from '../policy-store/policy-version-verify.ts';
import { findParent } from './policy-version-row.ts';
import { approvalDigest } from './approval-digest.ts';
import { applyMergePatch } from './merge-patch.ts';
import { hashKeySecrets } from './hash-key-secrets.ts';
import { diffPolicies, scopeRefusal } from './policy-diff.ts';
import { ProposalRepository, type ProposalRow } from './proposal-repository.ts';
import { forbidden, invalid } from './governance-errors.ts';
import { ParsedPolicyCache, proposalView, rollbackTarget, singleCostCenter } from './proposal-view.ts';
import { FIRST_APPROVERS_RULE, firstApproverOf, resolveApprover, type Approver, type ApproverClaim } from './resolve-approver.ts';
import { activateSystemSignedChange } from './system-signed-change.ts';
import { versionView, type PolicyVersionView } from './policy-version-view.ts';

export { versionStatus, versionView, type PolicyVersionStatus, type PolicyVersionView } from './policy-version-view.ts';

export interface GovernanceServiceOptions {
  client: ClickHouseClient;
  database: string;
  store: PolicyStore;
  audit: AuditSink;
  /** Four-eyes rule: an approver may not approve a proposal they made (config `governance.require_distinct_approver`). @defaultValue true */
  requireDistinctApprover?: boolean | undefined;
  now?: () => Date;
}

export interface ApproveInput extends ApproverClaim {
  /** Base64 Ed25519 signature of the proposal's `digest` (UTF-8) by that approver's key. */
  signature: string;
}

/**
 * The pull-request-shaped workflow: propose → diff + digest → approve (signed, in scope) →
 * activate; reject; roll back. Persists proposals in ClickHouse and writes the audit trail.
 * Errors are GatewayErrors (`invalid_request`, `forbidden`, `not_found`).
 *
 * Beside it: resolve-approver.ts (who may approve), proposal-view.ts (what reviewers see),
 * system-signed-change.ts (the rollback guard's changes), policy-version-view.ts (history).
 */
export class GovernanceService {
  private readonly options: GovernanceServiceOptions;
  private readonly repository: ProposalRepository;
  private readonly parsedPolicies = new ParsedPolicyCache();

  constructor(options: GovernanceServiceOptions) {
    this.options = options;
    this.repository = new ProposalRepository(options.client, options.database);
  }

  get store(): PolicyStore {
    return this.options.store;
  }

  /** Creates a pending proposal from a full document or a merge patch against the active version. */
  async createProposal(input: CreateProposalInput): Promise<ProposalView> {
    if (typeof input.author !== 'string' || input.author.trim() === '') throw invalid('author is required', 'author');
    if (typeof input.justification !== 'string' || input.justification.trim() === '') throw invalid('justification is required', 'justification');
    if ((input.document === undefined) === (input.patch === undefined)) throw invalid('give exactly one of document or patch', 'document');
    const source = input.source ?? 'human';
    if (source !== 'human' && source !== 'optimizer') throw invalid('source must be "human" or "optimizer"', 'source');
    const base = this.options.store.current();
    const document = proposedDocument(input, base.document);
    const diff = diffPolicies(base.document, document);
    if (diff.changes.length === 0) throw invalid(`the proposed policy is identical to the active version ${base.version}`);
    const id = `prop_${randomBytes(8).toString('hex')}`;
    const text = canonicalJson(document);
    const documentHash = sha256Hex(text);
    const at = this.repository.timestamp(this.options.now?.());
    const row: ProposalRow = {
      id,
      status: 'pending',
      source,
      author: input.author,
      proposed_by: input.proposedBy ?? '',
      justification: input.justification,
      summary: input.summary ?? '',
      base_version: base.version,
      base_hash: base.hash,
      document: text,
      diff: JSON.stringify(diff),
      math: input.math === undefined ? '' : JSON.stringify(input.math),
      digest: approvalDigest({ proposalId: id, baseHash: base.hash, documentHash }),
      cost_centers: diff.cost_centers,
      decided_by: '',
      decision_reason: '',
      signature: '',
      activated_version: 0,
      created_at: at,
      updated_at: at,
    };
    await this.repository.save(row);
    this.options.audit.record({
      actor: input.author,
      action: 'policy.proposed',
      subject: id,
      ...singleCostCenter(diff.cost_centers),
      details: { proposal_id: id, source, base_version: base.version, base_hash: base.hash, document_hash: documentHash, cost_centers: diff.cost_centers, summary: row.summary, justification: row.justification, changes: diff.changes.length },
      policy_version: base.version,
    });
    return this.view(row, base.document);
  }

  async listProposals(status?: string): Promise<ProposalView[]> {
    const rows = await this.repository.list(status);
    const bases = await this.documentsByHash(new Set(rows.map((row) => row.base_hash)));
    return rows.map((row) => this.view(row, bases.get(row.base_hash)));
  }

  /** One proposal, with the full proposed document. */
  async getProposal(id: string): Promise<ProposalView & { document: unknown }> {
    const row = await this.requireProposal(id);
    const bases = await this.documentsByHash(new Set([row.base_hash]));
    // The stored text as is: its canonical JSON hashes to document_hash, so clients can check the digest.
    return { ...this.view(row, bases.get(row.base_hash)), document: JSON.parse(row.document) as unknown };
  }

  /** Base documents of stored versions whose text still matches their hash. */
  private async documentsByHash(hashes: Set<string>): Promise<Map<string, PolicyDocument>> {
    const found = new Map<string, PolicyDocument>();
    if (hashes.size === 0) return found;
    for (const row of await this.options.store.versions()) {
      if (hashes.has(row.hash) && sha256Hex(row.document) === row.hash) found.set(row.hash, this.parsedPolicies.parsed(row.document));
    }
    return found;
  }

  private async requireProposal(id: string): Promise<ProposalRow> {
    const row = await this.repository.get(id);
    if (!row) throw new GatewayError('not_found', { message: `no proposal ${id}` });
    return row;
  }

  /** Checks the signature, the approver's scope (and OIDC identity), then activates the proposal as a new version. */
  async approveProposal(id: string, input: ApproveInput): Promise<{ version: number; proposal: ProposalView }> {
    if (typeof input.signature !== 'string' || input.signature === '') throw invalid('signature is required (base64 Ed25519 over the digest)', 'signature');
    const row = await this.requireProposal(id);
    if (row.status !== 'pending') throw invalid(`proposal ${id} is ${row.status}, not pending`);
    const current = this.options.store.current();
    if (row.base_hash !== current.hash) {
      throw invalid(`proposal ${id} was made against version ${row.base_version}; version ${current.version} is active now: propose it again`);
    }
    const approval = await this.checkApproval(row, input, current);
    const rollbackTo = rollbackTarget(row);
    let activated;
    try {
      activated = await this.options.store.activate({
        document: approval.document,
        baseHash: row.base_hash,
        proposalId: row.id,
        signature: input.signature,
        signedBy: approval.approver.id,
        approvedBy: approval.approver.id,
        justification: row.justification,
        rollBackVersion: rollbackTo === undefined ? undefined : current.version,
      });
    } catch (error) {
      if (error instanceof StalePolicyError) throw invalid(error.message);
      if (error instanceof PolicyVerificationError) throw forbidden(error.message);
      throw error;
    }
    const decided: ProposalRow = { ...row, status: 'approved', decided_by: approval.approver.id, signature: input.signature, activated_version: activated.version, updated_at: this.repository.timestamp(this.options.now?.()) };
    await this.repository.save(decided);
    this.auditApproval(row, input, approval, { activated, current, rollbackTo });
    return { version: activated.version, proposal: this.view(decided, current.document) };
  }

  /** The approver and document of an approval that passes every rule (digest, first approvers, four eyes, scope, signature). */
  private async checkApproval(row: ProposalRow, input: ApproveInput, current: ActivePolicy): Promise<CheckedApproval> {
    const id = row.id;
    const digest = approvalDigest({ proposalId: row.id, baseHash: row.base_hash, documentHash: sha256Hex(row.document) });
    if (digest !== row.digest) throw forbidden(`proposal ${id} was altered after it was proposed (digest mismatch)`);
    const document = parsePolicyDocument(JSON.parse(row.document), `proposal ${id}`);
    // While the active policy lists no approvers, only the first-approvers rule lets a change through.
    const firstApprovers = current.document.approvers.length === 0;
    const approver = firstApprovers ? firstApproverOf(id, input, current.document, document) : await resolveApprover(input, current.document);
    if (this.options.requireDistinctApprover !== false && row.proposed_by !== '' && row.proposed_by === approver.id) {
      throw forbidden(`approver ${approver.id} proposed ${id} and may not approve it too: another approver in scope must sign (four-eyes rule, governance.require_distinct_approver in gatehouse.yaml)`);
    }
    const refusal = firstApprovers ? undefined : scopeRefusal(approver.scopes, diffPolicies(current.document, document).cost_centers);
    if (refusal) throw forbidden(`approver ${approver.id} may not approve proposal ${id}: ${refusal}`);
    if (!verifyText(approver.public_key, digest, input.signature)) {
      throw forbidden(`the signature does not verify against approver ${approver.id}'s public key for proposal ${id}'s digest`);
    }
    return { approver, document, digest, firstApprovers };
  }

  private auditApproval(row: ProposalRow, input: ApproveInput, approval: CheckedApproval, outcome: { activated: ActivePolicy; current: ActivePolicy; rollbackTo: number | undefined }): void {
    const { approver, digest, firstApprovers } = approval;
    const { activated, current, rollbackTo } = outcome;
    const id = row.id;
    const centers = row.cost_centers;
    const costCenter = singleCostCenter(centers);
    // First approvers: the admin who let the change through is the actor, the new approver's signature the proof of key.
    const firstApproversDetails = firstApprovers ? { first_approvers: true, admin: input.caller?.name ?? '', rule: FIRST_APPROVERS_RULE } : {};
    this.options.audit.record({ actor: firstApprovers ? (input.caller?.name ?? approver.id) : approver.id, action: 'policy.approved', subject: id, ...costCenter, details: { proposal_id: id, approver: approver.id, digest, signature: input.signature, version: activated.version, cost_centers: centers, ...firstApproversDetails }, policy_version: activated.version });
    this.options.audit.record({ actor: approver.id, action: 'policy.activated', subject: `policy:${activated.version}`, ...costCenter, details: { version: activated.version, hash: activated.hash, parent_hash: activated.parentHash, proposal_id: id, approved_by: approver.id, previous_version: current.version }, policy_version: activated.version });
    if (rollbackTo !== undefined) {
      this.options.audit.record({ actor: approver.id, action: 'policy.rolled_back', subject: `policy:${current.version}`, ...costCenter, details: { from_version: current.version, restored_version: rollbackTo, version: activated.version, proposal_id: id, reason: row.justification, automatic: false }, policy_version: activated.version });
    }
  }

  async rejectProposal(id: string, input: { reason: string; actor: string }): Promise<ProposalView> {
    if (typeof input.reason !== 'string' || input.reason.trim() === '') throw invalid('reason is required', 'reason');
    const row = await this.requireProposal(id);
    if (row.status !== 'pending') throw invalid(`proposal ${id} is ${row.status}, not pending`);
    const decided: ProposalRow = { ...row, status: 'rejected', decided_by: input.actor, decision_reason: input.reason, updated_at: this.repository.timestamp(this.options.now?.()) };
    await this.repository.save(decided);
    this.options.audit.record({ actor: input.actor, action: 'policy.rejected', subject: id, details: { proposal_id: id, reason: input.reason, cost_centers: row.cost_centers }, policy_version: this.options.store.current().version });
    return this.view(decided);
  }

  /**
   * Manual rollback: a proposal whose document is the one of `to_version`. It goes through the
   * same approval (signature, scope) as any change; activation marks the current version
   * `rolled_back` and records `policy.rolled_back`.
   */
  async proposeRollback(input: { to_version: number; justification: string; author: string; proposedBy?: string | undefined }): Promise<ProposalView> {
    if (!Number.isInteger(input.to_version) || input.to_version < 1) throw invalid('to_version must be a version number', 'to_version');
    const target = (await this.options.store.versions()).find((row) => row.version === input.to_version);
    if (!target) throw new GatewayError('not_found', { message: `no policy version ${input.to_version}` });
    const current = this.options.store.current();
    if (target.version === current.version) throw invalid(`version ${target.version} is already active`, 'to_version');
    if (sha256Hex(target.document) !== target.hash) throw forbidden(`stored version ${target.version} does not match its hash; refusing to restore it`);
    return this.createProposal({
      document: JSON.parse(target.document),
      justification: input.justification,
      author: input.author,
      proposedBy: input.proposedBy,
      source: 'human',
      summary: `Roll back to version ${target.version}`,
      math: { rollback_to_version: target.version },
    });
  }

  /**
   * Automatic rollback (the optimizer's rollback guard): restores the active version's parent
   * document as a new version signed by the system key, marks the active one `rolled_back`, and
   * records `policy.rolled_back` with the numbers behind the decision.
   */
  async rollbackToParent(input: RollbackToParentInput): Promise<RollbackResult> {
    if (typeof input.reason !== 'string' || input.reason.trim() === '') throw invalid('reason is required', 'reason');
    await this.options.store.reload();
    const current = this.options.store.current();
    const rows = await this.options.store.versions();
    const currentRow = rows.find((row) => row.version === current.version);
    const parentRow = currentRow ? findParent(currentRow, new Map(rows.map((row) => [row.version, row]))) : undefined;
    if (!parentRow) throw invalid(`version ${current.version} has no parent to roll back to`);
    const document = parsePolicyDocument(JSON.parse(parentRow.document), `policy version ${parentRow.version}`);
    const centers = diffPolicies(document, current.document).cost_centers;
    const activated = await activateSystemSignedChange(this.options.store, this.options.audit, {
      current,
      document,
      reason: input.reason,
      actor: input.actor ?? 'system',
      rollBackVersion: current.version,
      costCenters: centers,
      rolledBackDetails: (version, proposalId) => ({ from_version: current.version, restored_version: parentRow.version, version: version.version, reason: input.reason, numbers: input.numbers ?? {}, automatic: true, proposal_id: proposalId, cost_centers: centers }),
    });
    return { version: activated.version, from_version: current.version, restored_version: parentRow.version };
  }

  /**
   * Automatic revert of one rule (the rollback guard, when later versions were approved on top of
   * the one that added it): a new version = the active document without the rule, signed by the
   * system key. Everything else approved since stays in force. Audits `policy.rolled_back`
   * (`rule_id`, numbers) and `policy.activated`.
   */
  async revertRule(input: RollbackToParentInput & { ruleId: string }): Promise<RollbackResult & { rule_id: string }> {
    if (typeof input.reason !== 'string' || input.reason.trim() === '') throw invalid('reason is required', 'reason');
    await this.options.store.reload();
    const current = this.options.store.current();
    const rule = current.document.rules.find((candidate) => candidate.id === input.ruleId);
    if (!rule) throw invalid(`rule ${input.ruleId} is not in the active version ${current.version}`, 'rule_id');
    const document = parsePolicyDocument({ ...JSON.parse(canonicalJson(current.document)), rules: current.document.rules.filter((candidate) => candidate.id !== input.ruleId) }, `policy version ${current.version} without rule ${input.ruleId}`);
    const centers = diffPolicies(current.document, document).cost_centers;
    const activated = await activateSystemSignedChange(this.options.store, this.options.audit, {
      current,
      document,
      reason: input.reason,
      actor: input.actor ?? 'system',
      costCenters: centers,
      rolledBackDetails: (version, proposalId) => ({ from_version: current.version, version: version.version, rule_id: input.ruleId, reason: input.reason, numbers: input.numbers ?? {}, automatic: true, proposal_id: proposalId, cost_centers: centers }),
    });
    // No earlier document comes back: the restored state is the active one minus the rule.
    return { version: activated.version, from_version: current.version, restored_version: current.version, rule_id: input.ruleId };
  }

  /** Every version, newest first, with which one is in force. */
  async history(): Promise<PolicyVersionView[]> {
    const active = this.options.store.current().version;
    const store = this.options.store;
    return (await store.versions()).reverse().map((row) => versionView(store.isRefused(row) ? { ...row, status: 'refused' } : row, active));
  }

  private view(row: ProposalRow, base?: PolicyDocument): ProposalView {
    return proposalView(row, this.parsedPolicies, base);
  }
}

/** An approval that passed every rule: who signs, what goes in force. */
interface CheckedApproval {
  approver: Approver;
  document: PolicyDocument;
  digest: string;
  /** Approved under the first-approvers rule (the active policy lists no approvers). */
  firstApprovers: boolean;
}

/** The document a proposal would put in force: the full document given, or the patch applied to the active one; key secrets hashed. */
function proposedDocument(input: CreateProposalInput, base: PolicyDocument): PolicyDocument {
  const raw = input.document !== undefined ? input.document : applyMergePatch(JSON.parse(canonicalJson(base)), input.patch);
  try {
    return hashKeySecrets(parsePolicyDocument(raw, input.document !== undefined ? 'document' : 'patched policy'));
  } catch (error) {
    if (error instanceof ConfigError) throw invalid(`the proposed policy is invalid: ${error.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    throw error;
  }
}
