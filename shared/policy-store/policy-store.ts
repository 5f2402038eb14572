import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { ActivePolicy, PolicyHolder, PolicyReadiness } from '../policy/active-policy.ts';
import type { PolicyDocument } from '../policy/policy-schema.ts';
import type { AuditSink } from '../audit/audit-event.ts';
import type { SystemKey } from '../signing/system-key.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { sha256Hex } from '../signing/hash.ts';
import { approvalDigest } from '../governance/approval-digest.ts';
import type { PolicyAnchor } from './policy-anchor.ts';
import { PolicyVersionTable } from './policy-version-table.ts';
import { ActivationLock } from './activation-lock.ts';
import { publishPolicyNotice, subscribePolicyNotices, type PolicyNoticeSubscription } from './policy-change-notices.ts';
import { bootstrapPolicyVersionIfEmpty } from './bootstrap-policy-version.ts';
import {
  PolicyVerificationError,
  verifyPolicyVersion,
  versionFingerprint,
  type PolicyVersionRow,
  type VerifiedVersion,
  type VerifyContext,
} from './policy-version-verify.ts';

export type { PolicyVersionRow } from './policy-version-verify.ts';

export interface PolicyStoreOptions {
  client: ClickHouseClient;
  database: string;
  /** Signs the bootstrap version and automatic rollbacks; verifies them on load. */
  systemKey: SystemKey;
  /** Receives `policy.activated` (bootstrap) and `policy.refused`. */
  audit: AuditSink;
  /** Policy YAML that becomes version 1 on an empty `policy_versions` table. */
  bootstrapPolicyFile?: string | undefined;
  /** Alternative to the file (tests, embedded callers that already parsed it). */
  bootstrapDocument?: unknown;
  /**
   * Versions activated through a gateway, kept outside the database (see createPolicyAnchor). With
   * it, a row written into `policy_versions` by hand is refused however it is signed. Without it
   * (unit tests) every verifying row is a candidate.
   */
  anchor?: PolicyAnchor | undefined;
  /** Distributed mode: activations publish a notice; every store re-reads on it. */
  redis?: Redis | undefined;
  /** Prefix of the pub/sub channel and lock key. @defaultValue "gatehouse:" */
  redisKeyPrefix?: string | undefined;
  /** Safety-net re-read interval, also what catches rows edited behind our back. @defaultValue 1000 */
  pollIntervalMillis?: number | undefined;
  now?: (() => Date) | undefined;
  onError?: ((error: unknown) => void) | undefined;
}

/** What the signer provides to make a new version active. */
export interface ActivationInput {
  document: PolicyDocument;
  /** Hash of the version the change was reviewed against; must still be the active one. */
  baseHash: string;
  proposalId: string;
  /** Base64 Ed25519 signature over approvalDigest({proposalId, baseHash, hash of document}). */
  signature: string;
  signedBy: string;
  /** Shown as `approved_by`; usually `signedBy`. */
  approvedBy: string;
  justification: string;
  /** Marks this version `rolled_back` in the same step (rollbacks). */
  rollBackVersion?: number | undefined;
}

/** Raised when the base of a change is no longer the active version. */
export class StalePolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StalePolicyError';
  }
}

/**
 * Signed policy versions in `gatehouse.policy_versions`, and the PolicyHolder the hot path reads.
 * Active version = newest row with status `active`. Every load verifies the hash/signature chain
 * back to version 1; an unsigned or altered version is refused (audited, reported by readiness)
 * and the version in force stays.
 */
export class PolicyStore implements PolicyHolder {
  private readonly options: PolicyStoreOptions;
  private readonly table: PolicyVersionTable;
  private readonly activationLock: ActivationLock;
  private active: { policy: ActivePolicy; fingerprint: string } | undefined;
  private refusal: string | undefined;
  private readonly refusedFingerprints = new Set<string>();
  /** Stored versions this store refused (by version: the refused row's hash), shown as status `refused`. */
  private readonly refusedRows = new Map<number, string>();
  private readonly listeners = new Set<(policy: ActivePolicy) => void>();
  private readonly verifyCache = new Map<string, VerifiedVersion>();
  private tableFingerprint = '';
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private notices: PolicyNoticeSubscription | undefined;
  private closed = false;

  private constructor(options: PolicyStoreOptions) {
    this.options = options;
    this.table = new PolicyVersionTable(options);
    this.activationLock = new ActivationLock({ redis: options.redis, key: `${this.prefix}policy:activation-lock`, onError: options.onError });
  }

  private get prefix(): string {
    return this.options.redisKeyPrefix ?? 'gatehouse:';
  }

  /** Redis channel carrying activation notices. */
  get channel(): string {
    return `${this.prefix}policy:changed`;
  }

  /** Bootstraps version 1 if needed, loads the active version, starts polling and listening. */
  static async open(options: PolicyStoreOptions): Promise<PolicyStore> {
    const store = new PolicyStore(options);
    await bootstrapPolicyVersionIfEmpty({ ...options, table: store.table });
    await store.reload();
    if (!store.active) throw new Error(`no verifiable policy version in ${store.table.name}: ${store.refusal ?? 'table is empty'}`);
    const interval = options.pollIntervalMillis ?? 1000;
    store.pollTimer = setInterval(() => void store.poll(), interval);
    store.pollTimer.unref();
    if (options.redis) store.notices = await subscribePolicyNotices(options.redis, store.channel, () => void store.reload(), options.onError);
    return store;
  }

  current(): ActivePolicy {
    if (!this.active) throw new Error('policy store not loaded');
    return this.active.policy;
  }

  onChange(listener: (policy: ActivePolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** ok while a verified version is in force; `refusal` says why the newest stored version was not loaded. */
  readiness(): PolicyReadiness {
    return { ok: this.active !== undefined, refusal: this.refusal };
  }

  /** Every version (latest state of each row), oldest first. */
  versions(): Promise<PolicyVersionRow[]> {
    return this.table.versions();
  }

  /** True when this store refused the stored row (version, hash): its status reads `refused`. */
  isRefused(row: Pick<PolicyVersionRow, 'version' | 'hash'>): boolean {
    return this.refusedRows.get(row.version) === row.hash;
  }

  async version(version: number): Promise<PolicyVersionRow | undefined> {
    return (await this.versions()).find((row) => row.version === version);
  }

  /** Re-reads when the stored rows changed since the last load (cheap fingerprint query). */
  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      const fingerprint = await this.table.fingerprint();
      if (fingerprint !== this.tableFingerprint) await this.reload();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Reads, verifies and (if it changed and verifies) swaps in the newest active version. Coalesces concurrent calls. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          await this.reloadOnce();
        } catch (error) {
          this.options.onError?.(error);
        }
      } while (this.reloadAgain && !this.closed);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    const fingerprint = await this.table.fingerprint();
    const rows = await this.table.versions();
    this.tableFingerprint = fingerprint;
    const anchored = await this.options.anchor?.read();
    const context = this.verifyContext(rows);
    // Rollbacks always write a new active version, so the newest version is the active one. A newest
    // row marked otherwise had its status edited: replaying an older signed version is a downgrade.
    const newest = rows.reduce<PolicyVersionRow | undefined>((max, row) => (!max || row.version > max.version ? row : max), undefined);
    let statusRefusal: PolicyVerificationError | undefined;
    if (newest && newest.status !== 'active') {
      statusRefusal = new PolicyVerificationError(newest.version, `is marked "${newest.status}" but no later version replaces it (status edited outside a rollback)`);
      this.refuse(newest, `${versionFingerprint(newest)}:status:${newest.status}`, statusRefusal);
      if (this.active) return;
    }
    const candidates = rows.filter((row) => row.status === 'active').sort((a, b) => b.version - a.version);
    for (const [index, candidate] of candidates.entries()) {
      const candidateFingerprint = versionFingerprint(candidate);
      // A refusal stays reported while a refused row is still the newest one.
      if (index === 0) this.refusal = statusRefusal?.message;
      if (this.active && this.active.fingerprint === candidateFingerprint) return;
      try {
        const verified = verifyPolicyVersion(candidate, context);
        if (anchored && anchored.size > 0 && anchored.get(candidate.version) !== candidate.hash) {
          throw new PolicyVerificationError(
            candidate.version,
            `was not activated through a gateway (absent from the policy anchor ${this.options.anchor?.description}): a row written into policy_versions by hand is never served`,
          );
        }
        if (anchored && anchored.size === 0) await this.seedAnchor(rows, context);
        this.swap(verified, candidateFingerprint);
        return;
      } catch (error) {
        if (!(error instanceof PolicyVerificationError)) throw error;
        this.refuse(candidate, candidateFingerprint, error);
        // With a version in force, keep it; at start-up fall back to the newest version that verifies.
        if (this.active) return;
      }
    }
  }

  /**
   * First start with an anchor (an upgrade, or a fresh data dir against a ClickHouse server that
   * already holds versions): trust the versions that verify now, as the refusal rules stand.
   */
  private async seedAnchor(rows: readonly PolicyVersionRow[], context: VerifyContext): Promise<void> {
    const anchor = this.options.anchor;
    if (!anchor) return;
    for (const row of rows) {
      try {
        verifyPolicyVersion(row, context);
        await anchor.add(row.version, row.hash);
      } catch (error) {
        if (!(error instanceof PolicyVerificationError)) throw error;
      }
    }
    this.options.onError?.(new Error(`policy anchor ${anchor.description} was empty: trusting the versions in policy_versions that verify now`));
  }

  private verifyContext(rows: Iterable<PolicyVersionRow>): VerifyContext {
    return {
      rows: new Map([...rows].map((row) => [row.version, row])),
      systemKeyId: this.options.systemKey.id,
      systemPublicKeyPem: this.options.systemKey.publicKeyPem,
      cache: this.verifyCache,
    };
  }

  private swap(verified: VerifiedVersion, fingerprint: string): void {
    const policy: ActivePolicy = {
      version: verified.row.version,
      hash: verified.row.hash,
      parentHash: verified.row.parent_hash,
      approvedBy: verified.row.approved_by,
      document: verified.document,
    };
    this.active = { policy, fingerprint };
    for (const listener of this.listeners) {
      try {
        listener(policy);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private refuse(row: PolicyVersionRow, fingerprint: string, error: PolicyVerificationError): void {
    this.refusal = error.message;
    this.refusedRows.set(row.version, row.hash);
    if (this.refusedFingerprints.has(fingerprint)) return; // audit once per altered row, not once per poll
    this.refusedFingerprints.add(fingerprint);
    this.options.audit.record({
      actor: 'system',
      action: 'policy.refused',
      subject: `policy:${row.version}`,
      details: {
        version: row.version,
        reason: error.message,
        failed_version: error.version,
        hash: row.hash,
        signed_by: row.signed_by,
        kept_version: this.active?.policy.version ?? null,
      },
      policy_version: this.active?.policy.version ?? 0,
    });
  }

  /**
   * Writes a new active version signed by `input.signedBy`, verifies it like any load would, and
   * loads it in this process at once; other processes get a Redis notice (and poll anyway).
   * Serialized per process and, with Redis, across processes.
   * @throws StalePolicyError when `baseHash` is no longer the active version
   * @throws PolicyVerificationError when the signature or signer scope does not verify
   */
  async activate(input: ActivationInput): Promise<ActivePolicy> {
    return this.activationLock.run(async () => {
      await this.reload();
      const current = this.current();
      if (current.hash !== input.baseHash) {
        throw new StalePolicyError(`the active policy changed (now version ${current.version}) since this change was made; propose it again`);
      }
      const rows = await this.table.versions();
      const version = rows.reduce((max, row) => Math.max(max, row.version), 0) + 1;
      const text = canonicalJson(input.document);
      const at = this.table.timestamp();
      const row: PolicyVersionRow = {
        version,
        hash: sha256Hex(text),
        parent_hash: current.hash,
        document: text,
        signature: input.signature,
        signed_by: input.signedBy,
        approved_by: input.approvedBy,
        proposal_id: input.proposalId,
        justification: input.justification,
        status: 'active',
        created_at: at,
        updated_at: at,
      };
      verifyPolicyVersion(row, this.verifyContext([...rows, row]));
      await this.options.anchor?.add(version, row.hash);
      const written: PolicyVersionRow[] = [row];
      if (input.rollBackVersion !== undefined) {
        const old = rows.find((r) => r.version === input.rollBackVersion);
        if (old) written.push({ ...old, status: 'rolled_back', updated_at: at });
      }
      await this.table.insert(written);
      await this.reload();
      if (this.current().version !== version) throw new Error(`version ${version} was written but did not load: ${this.refusal ?? 'unknown reason'}`);
      if (this.options.redis) await publishPolicyNotice(this.options.redis, this.channel, { version, hash: row.hash }, this.options.onError);
      return this.current();
    });
  }

  /** Signs `approvalDigest` with the system key (automatic rollbacks). */
  systemSign(proposalId: string, baseHash: string, document: PolicyDocument): { signature: string; signedBy: string } {
    const digest = approvalDigest({ proposalId, baseHash, documentHash: sha256Hex(canonicalJson(document)) });
    return { signature: this.options.systemKey.sign(digest), signedBy: this.options.systemKey.id };
  }

  /** Stops polling and the Redis subscription. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    if (this.notices) {
      await this.notices.close();
      this.notices = undefined;
    }
    await this.reloading;
  }
}
