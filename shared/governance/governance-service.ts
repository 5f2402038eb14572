import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { AuditSink } from '../audit/audit-event.ts';
import type { PolicyDocument } from '../policy/policy-schema.ts';
import type {
  CreateProposalInput,
  ProposalDiff,
  ProposalView,
  RollbackResult,
  RollbackToParentInput,
} from './proposal-types.ts';
import { ConfigError, parsePolicyDocument } from '../config/load-config.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { sha256Hex } from '../signing/hash.ts';
import { verifyText } from '../signing/ed25519.ts';
import { GatewayError } from '../../gateway/errors/gateway-error.ts';
import { PolicyStore, StalePolicyError } from '../policy-store/policy-store.ts';
import { PolicyVerificationError, findParent, type PolicyVersionRow } from '../policy-store/policy-version-verify.ts';
import { approvalDigest } from './approval-digest.ts';
import { applyMergePatch } from './merge-patch.ts';
import { hashKeySecrets } from './hash-key-secrets.ts';
import { diffPolicies, scopeRefusal } from './policy-diff.ts';
import { firstApproversRefusal } from './first-approvers.ts';
import { ProposalRepository, type ProposalRow } from './proposal-repository.ts';
import { verifyOidcSubject } from './verify-oidc-approver.ts';

export interface GovernanceServiceOptions {
  client: ClickHouseClient;
  database: string;
  store: PolicyStore;
  audit: AuditSink;
  /** Four-eyes rule: an approver may not approve a proposal they made (config `governance.require_distinct_approver`). @defaultValue true */
  requireDistinctApprover?: boolean | undefined;
  now?: () => Date;
}

export interface ApproveInput {
  /** Who calls (the admin token's name and role); the first-approvers rule needs an `admin`. */
  caller?: { name: string; role: string } | undefined;
  /** Approver id from the active policy's `approvers` (optional when an OIDC ID token names one). */
  approver?: string | undefined;
  /** Base64 Ed25519 signature of the proposal's `digest` (UTF-8) by that approver's key. */
  signature: string;
  /** Required when the policy configures `oidc`: the approver's ID token; its subject must map to the approver. */
  id_token?: string | undefined;
}

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

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', { message, ...(param ? { param } : {}) });
}

/**
 * The pull-request-shaped workflow: propose → diff + digest → approve (signed, in scope) →
 * activate; reject; roll back. Persists proposals in ClickHouse and writes the audit trail.
 * Errors are GatewayErrors (`invalid_request`, `forbidden`, `not_found`).
 */
export class GovernanceService {
  private readonly options: GovernanceServiceOptions;
  private readonly repository: ProposalRepository;

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
    const raw = input.document !== undefined ? input.document : applyMergePatch(JSON.parse(canonicalJson(base.document)), input.patch);
    let document: PolicyDocument;
    try {
      document = hashKeySecrets(parsePolicyDocument(raw, input.document !== undefined ? 'document' : 'patched policy'));
    } catch (error) {
      if (error instanceof ConfigError) throw invalid(`the proposed policy is invalid: ${error.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
      throw error;
    }
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
      ...(diff.cost_centers.length === 1 && diff.cost_centers[0] !== '*' ? { cost_center: diff.cost_centers[0] } : {}),
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

  private readonly parsedCache = new Map<string, PolicyDocument>();

  private parsed(text: string): PolicyDocument {
    const hash = sha256Hex(text);
    let document = this.parsedCache.get(hash);
    if (!document) {
      document = parsePolicyDocument(JSON.parse(text), 'stored policy');
      if (this.parsedCache.size > 1000) this.parsedCache.clear();
      this.parsedCache.set(hash, document);
    }
    return document;
  }

  /** Base documents of stored versions whose text still matches their hash. */
  private async documentsByHash(hashes: Set<string>): Promise<Map<string, PolicyDocument>> {
    const found = new Map<string, PolicyDocument>();
    if (hashes.size === 0) return found;
    for (const row of await this.options.store.versions()) {
      if (hashes.has(row.hash) && sha256Hex(row.document) === row.hash) found.set(row.hash, this.parsed(row.document));
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
    const documentHash = sha256Hex(row.document);
    const digest = approvalDigest({ proposalId: row.id, baseHash: row.base_hash, documentHash });
    if (digest !== row.digest) throw new GatewayError('forbidden', { message: `proposal ${id} was altered after it was proposed (digest mismatch)` });
    const document = parsePolicyDocument(JSON.parse(row.document), `proposal ${id}`);
    // While the active policy lists no approvers, only the first-approvers rule lets a change through.
    const firstApprovers = current.document.approvers.length === 0;
    const approver = firstApprovers ? firstApproverOf(id, input, current.document, document) : await this.resolveApprover(input, current.document);
    if (this.options.requireDistinctApprover !== false && row.proposed_by !== '' && row.proposed_by === approver.id) {
      throw new GatewayError('forbidden', {
        message: `approver ${approver.id} proposed ${id} and may not approve it too: another approver in scope must sign (four-eyes rule, governance.require_distinct_approver in gatehouse.yaml)`,
      });
    }
    const refusal = firstApprovers ? undefined : scopeRefusal(approver.scopes, diffPolicies(current.document, document).cost_centers);
    if (refusal) throw new GatewayError('forbidden', { message: `approver ${approver.id} may not approve proposal ${id}: ${refusal}` });
    if (!verifyText(approver.public_key, digest, input.signature)) {
      throw new GatewayError('forbidden', { message: `the signature does not verify against approver ${approver.id}'s public key for proposal ${id}'s digest` });
    }
    const rollbackTo = rollbackTarget(row);
    let activated;
    try {
      activated = await this.options.store.activate({
        document,
        baseHash: row.base_hash,
        proposalId: row.id,
        signature: input.signature,
        signedBy: approver.id,
        approvedBy: approver.id,
        justification: row.justification,
        rollBackVersion: rollbackTo === undefined ? undefined : current.version,
      });
    } catch (error) {
      if (error instanceof StalePolicyError) throw invalid(error.message);
      if (error instanceof PolicyVerificationError) throw new GatewayError('forbidden', { message: error.message });
      throw error;
    }
    const decided: ProposalRow = { ...row, status: 'approved', decided_by: approver.id, signature: input.signature, activated_version: activated.version, updated_at: this.repository.timestamp(this.options.now?.()) };
    await this.repository.save(decided);
    const centers = row.cost_centers;
    const costCenter = centers.length === 1 && centers[0] !== '*' ? { cost_center: centers[0] } : {};
    // First approvers: the admin who let the change through is the actor, the new approver's signature the proof of key.
    const firstApproversDetails = firstApprovers ? { first_approvers: true, admin: input.caller?.name ?? '', rule: FIRST_APPROVERS_RULE } : {};
    this.options.audit.record({ actor: firstApprovers ? (input.caller?.name ?? approver.id) : approver.id, action: 'policy.approved', subject: id, ...costCenter, details: { proposal_id: id, approver: approver.id, digest, signature: input.signature, version: activated.version, cost_centers: centers, ...firstApproversDetails }, policy_version: activated.version });
    this.options.audit.record({ actor: approver.id, action: 'policy.activated', subject: `policy:${activated.version}`, ...costCenter, details: { version: activated.version, hash: activated.hash, parent_hash: activated.parentHash, proposal_id: id, approved_by: approver.id, previous_version: current.version }, policy_version: activated.version });
    if (rollbackTo !== undefined) {
      this.options.audit.record({ actor: approver.id, action: 'policy.rolled_back', subject: `policy:${current.version}`, ...costCenter, details: { from_version: current.version, restored_version: rollbackTo, version: activated.version, proposal_id: id, reason: row.justification, automatic: false }, policy_version: activated.version });
    }
    return { version: activated.version, proposal: this.view(decided, current.document) };
  }

  private async resolveApprover(input: ApproveInput, policy: PolicyDocument): Promise<PolicyDocument['approvers'][number]> {
    if (policy.oidc) {
      if (!input.id_token) throw new GatewayError('forbidden', { message: 'this policy requires an OIDC ID token (id_token) from the approver' });
      let subject: string;
      try {
        subject = await verifyOidcSubject(input.id_token, policy.oidc);
      } catch (error) {
        throw new GatewayError('forbidden', { message: `the OIDC ID token does not verify: ${(error as Error).message}` });
      }
      const approver = policy.approvers.find((candidate) => candidate.oidc_subject === subject);
      if (!approver) throw new GatewayError('forbidden', { message: `OIDC subject ${subject} is not an approver in the active policy` });
      if (input.approver !== undefined && input.approver !== approver.id) {
        throw new GatewayError('forbidden', { message: `OIDC subject ${subject} is approver ${approver.id}, not ${input.approver}` });
      }
      return approver;
    }
    if (!input.approver) throw invalid('approver is required', 'approver');
    const approver = policy.approvers.find((candidate) => candidate.id === input.approver);
    if (!approver) throw new GatewayError('forbidden', { message: `"${input.approver}" is not an approver in the active policy` });
    return approver;
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
    if (sha256Hex(target.document) !== target.hash) throw new GatewayError('forbidden', { message: `stored version ${target.version} does not match its hash; refusing to restore it` });
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
    const proposalId = `rollback_${randomBytes(8).toString('hex')}`;
    const { signature, signedBy } = this.options.store.systemSign(proposalId, current.hash, document);
    const activated = await this.options.store.activate({
      document,
      baseHash: current.hash,
      proposalId,
      signature,
      signedBy,
      approvedBy: signedBy,
      justification: input.reason,
      rollBackVersion: current.version,
    });
    const actor = input.actor ?? 'system';
    const centers = diffPolicies(document, current.document).cost_centers;
    const costCenter = centers.length === 1 && centers[0] !== '*' ? { cost_center: centers[0] } : {};
    this.options.audit.record({ actor, action: 'policy.rolled_back', subject: `policy:${current.version}`, ...costCenter, details: { from_version: current.version, restored_version: parentRow.version, version: activated.version, reason: input.reason, numbers: input.numbers ?? {}, automatic: true, proposal_id: proposalId, cost_centers: centers }, policy_version: activated.version });
    this.options.audit.record({ actor, action: 'policy.activated', subject: `policy:${activated.version}`, ...costCenter, details: { version: activated.version, hash: activated.hash, parent_hash: activated.parentHash, proposal_id: proposalId, approved_by: signedBy, previous_version: current.version }, policy_version: activated.version });
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
    const proposalId = `rollback_${randomBytes(8).toString('hex')}`;
    const { signature, signedBy } = this.options.store.systemSign(proposalId, current.hash, document);
    const activated = await this.options.store.activate({ document, baseHash: current.hash, proposalId, signature, signedBy, approvedBy: signedBy, justification: input.reason });
    const actor = input.actor ?? 'system';
    const centers = diffPolicies(current.document, document).cost_centers;
    const costCenter = centers.length === 1 && centers[0] !== '*' ? { cost_center: centers[0] } : {};
    this.options.audit.record({ actor, action: 'policy.rolled_back', subject: `policy:${current.version}`, ...costCenter, details: { from_version: current.version, version: activated.version, rule_id: input.ruleId, reason: input.reason, numbers: input.numbers ?? {}, automatic: true, proposal_id: proposalId, cost_centers: centers }, policy_version: activated.version });
    this.options.audit.record({ actor, action: 'policy.activated', subject: `policy:${activated.version}`, ...costCenter, details: { version: activated.version, hash: activated.hash, parent_hash: activated.parentHash, proposal_id: proposalId, approved_by: signedBy, previous_version: current.version }, policy_version: activated.version });
    // No earlier document comes back: the restored state is the active one minus the rule.
    return { version: activated.version, from_version: current.version, restored_version: current.version, rule_id: input.ruleId };
  }

  /** Every version, newest first, with which one is in force. */
  async history(): Promise<PolicyVersionView[]> {
    const active = this.options.store.current().version;
    const store = this.options.store;
    return (await store.versions()).reverse().map((row) => versionView(store.isRefused(row) ? { ...row, status: 'refused' } : row, active));
  }

  /**
   * The diff shown to reviewers is recomputed from the stored base version and proposed document,
   * not read from the `diff` column: an edited `diff` row must not make an approver sign something
   * other than what they were shown. (The stored diff is used only if the base version is gone.)
   */
  private view(row: ProposalRow, base?: PolicyDocument): ProposalView {
    let diff = JSON.parse(row.diff) as ProposalDiff;
    if (base) {
      try {
        diff = diffPolicies(base, this.parsed(row.document));
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
}

function rollbackTarget(row: ProposalRow): number | undefined {
  if (row.math === '') return undefined;
  const math = JSON.parse(row.math) as { rollback_to_version?: unknown } | null;
  return typeof math?.rollback_to_version === 'number' && row.summary.startsWith('Roll back to version') ? math.rollback_to_version : undefined;
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

const FIRST_APPROVERS_RULE = 'the active policy listed no approvers; an admin approved a change that only adds approvers, signed by one of them';

/**
 * The approver of a first-approvers change (shared/governance/first-approvers.ts): the caller is an
 * admin, the proposal only adds approvers, and `input.approver` is one it adds (whose key must sign).
 */
function firstApproverOf(id: string, input: ApproveInput, current: PolicyDocument, proposed: PolicyDocument): PolicyDocument['approvers'][number] {
  const refusal = firstApproversRefusal(current, proposed);
  if (refusal) throw new GatewayError('forbidden', { message: `proposal ${id} cannot be approved: ${refusal}` });
  // Fails closed: a caller that says nobody authenticated (a future path, a test) does not pass as an admin.
  if (input.caller?.role !== 'admin') {
    const who = input.caller ? `${input.caller.name} has role ${input.caller.role}` : 'no admin token was presented';
    throw new GatewayError('forbidden', { message: `the first approvers can only be approved with an admin token (${who})` });
  }
  const added = proposed.approvers.map((approver) => approver.id);
  if (!input.approver) throw invalid(`approver is required: one of the approvers proposal ${id} adds (${added.join(', ')}) signs with their new key`, 'approver');
  const approver = proposed.approvers.find((candidate) => candidate.id === input.approver);
  if (!approver) throw new GatewayError('forbidden', { message: `"${input.approver}" is not among the approvers proposal ${id} adds (${added.join(', ')}); one of them signs with their new key` });
  return approver;
}
