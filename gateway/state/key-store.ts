import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { BudgetPair, PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { sha256Hex } from '../../shared/crypto/hashing.ts';
import { clickHouseTimeToIso } from '../../shared/clickhouse/clickhouse-time.ts';

/** A developer's virtual key as the gateway knows it (the secret itself is never stored). */
export interface VirtualKey {
  id: string;
  keySha256: string;
  /** First characters of the key, safe to show in listings. */
  keyPrefix: string;
  developer: string;
  costCenter: string;
  repo: string;
  identity: string;
  tags: string[];
  budgets: BudgetPair | undefined;
  source: 'bootstrap' | 'admin';
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  /** After this instant (ISO) the key answers 401 with "expired"; null = no expiry. */
  expiresAt: string | null;
  /** Models this key may use, narrower than its cost center's (empty = the cost center's). */
  allowedModels: string[];
  /** Per-key rate limits; unset fields fall back to the cost center's `limits`. */
  limits: KeyLimits | undefined;
  /** After a rotation: the previous secret's hash, valid until `previousValidUntil`. */
  previousSha256: string;
  previousValidUntil: string | null;
}

export interface KeyLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

/** What PATCH /admin/keys/:id may change (absent = unchanged; null clears). */
export interface KeyUpdate {
  budgets?: BudgetPair | null | undefined;
  tags?: string[] | undefined;
  allowed_models?: string[] | undefined;
  expires_at?: string | null | undefined;
  limits?: KeyLimits | null | undefined;
  repo?: string | undefined;
}

/** Why a presented key does not authenticate. */
export type KeyRefusal = 'unknown' | 'revoked' | 'expired' | 'rotated';

export interface CreateKeyInput {
  developer: string;
  cost_center: string;
  repo?: string | undefined;
  identity?: string | undefined;
  tags?: string[] | undefined;
  budgets?: BudgetPair | undefined;
  expires_at?: string | undefined;
  allowed_models?: string[] | undefined;
  limits?: KeyLimits | undefined;
}

interface KeyRow {
  id: string;
  key_sha256: string;
  key_prefix: string;
  developer: string;
  cost_center: string;
  repo: string;
  identity: string;
  tags: string[];
  budgets: string;
  source: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
  expires_at: string | null;
  allowed_models: string[];
  limits: string;
  previous_sha256: string;
  previous_valid_until: string | null;
  updated_at: string;
}

const nowText = () => new Date().toISOString();
const isoOrNull = (value: string | null | undefined): string | null => (value ? clickHouseTimeToIso(value) : null);
const newSecret = () => `gh_${randomBytes(24).toString('base64url')}`;

const keyFingerprint = (key: VirtualKey) =>
  JSON.stringify([key.keySha256, key.developer, key.costCenter, key.repo, key.identity, key.tags, key.budgets ?? null, key.revokedAt, key.expiresAt, key.allowedModels, key.limits ?? null]);


function toRow(key: VirtualKey): KeyRow {
  return {
    id: key.id,
    key_sha256: key.keySha256,
    key_prefix: key.keyPrefix,
    developer: key.developer,
    cost_center: key.costCenter,
    repo: key.repo,
    identity: key.identity,
    tags: key.tags,
    budgets: key.budgets ? JSON.stringify(key.budgets) : '',
    source: key.source,
    created_by: key.createdBy,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    expires_at: key.expiresAt,
    allowed_models: key.allowedModels,
    limits: key.limits ? JSON.stringify(key.limits) : '',
    previous_sha256: key.previousSha256,
    previous_valid_until: key.previousValidUntil,
    updated_at: nowText(),
  };
}

function fromRow(row: KeyRow): VirtualKey {
  return {
    id: row.id,
    keySha256: row.key_sha256,
    keyPrefix: row.key_prefix,
    developer: row.developer,
    costCenter: row.cost_center,
    repo: row.repo,
    identity: row.identity,
    tags: row.tags,
    budgets: row.budgets ? (JSON.parse(row.budgets) as BudgetPair) : undefined,
    source: row.source === 'bootstrap' ? 'bootstrap' : 'admin',
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    expiresAt: isoOrNull(row.expires_at),
    allowedModels: row.allowed_models ?? [],
    limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : undefined,
    previousSha256: row.previous_sha256 ?? '',
    previousValidUntil: isoOrNull(row.previous_valid_until),
  };
}

/**
 * Virtual keys by SHA-256: bootstrap keys from the active policy plus keys created through the
 * admin API (persisted in `gatehouse.virtual_keys`). Lookups are a Map read on the hot path;
 * revocation takes effect in this process at once and in other replicas on their next refresh.
 */
export class KeyStore {
  private readonly byHash = new Map<string, VirtualKey>();
  private readonly byId = new Map<string, VirtualKey>();
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(client: ClickHouseClient, database: string) {
    this.client = client;
    this.database = database;
  }

  lookup(presentedKey: string): VirtualKey | undefined {
    const found = this.authenticate(presentedKey);
    return 'key' in found ? found.key : undefined;
  }

  /** The key a presented secret stands for, or why it does not authenticate (for the 401's words). */
  authenticate(presentedKey: string, now = Date.now()): { key: VirtualKey } | { refusal: KeyRefusal; key?: VirtualKey } {
    const hash = sha256Hex(presentedKey);
    const key = this.byHash.get(hash);
    if (!key) return { refusal: 'unknown' };
    if (key.revokedAt !== null) return { refusal: 'revoked', key };
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) return { refusal: 'expired', key };
    if (hash !== key.keySha256 && (key.previousValidUntil === null || Date.parse(key.previousValidUntil) <= now)) return { refusal: 'rotated', key };
    return { key };
  }

  list(): VirtualKey[] {
    return [...this.byId.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  get(id: string): VirtualKey | undefined {
    return this.byId.get(id);
  }

  private remember(key: VirtualKey): void {
    const previous = this.byId.get(key.id);
    if (previous) {
      this.byHash.delete(previous.keySha256);
      if (previous.previousSha256) this.byHash.delete(previous.previousSha256);
    }
    this.byId.set(key.id, key);
    this.byHash.set(key.keySha256, key);
    // A rotated key's old secret still finds the key (authenticate() decides whether its grace is over).
    if (key.previousSha256) this.byHash.set(key.previousSha256, key);
  }

  private async persist(key: VirtualKey): Promise<void> {
    await this.client.insert({ table: `${this.database}.virtual_keys`, values: [toRow(key)], format: 'JSONEachRow' });
    this.remember(key);
  }

  /** Applies a PATCH (budgets, tags, allowed models, expiry, limits, repo). */
  async update(id: string, update: KeyUpdate): Promise<VirtualKey | undefined> {
    const key = this.byId.get(id);
    if (!key) return undefined;
    const next: VirtualKey = {
      ...key,
      ...(update.budgets !== undefined ? { budgets: update.budgets ?? undefined } : {}),
      ...(update.tags !== undefined ? { tags: update.tags } : {}),
      ...(update.allowed_models !== undefined ? { allowedModels: update.allowed_models } : {}),
      ...(update.expires_at !== undefined ? { expiresAt: update.expires_at === null ? null : new Date(update.expires_at).toISOString() } : {}),
      ...(update.limits !== undefined ? { limits: update.limits ?? undefined } : {}),
      ...(update.repo !== undefined ? { repo: update.repo } : {}),
    };
    await this.persist(next);
    return next;
  }

  /** A new secret for the key; the old one keeps working for `graceSeconds` (0 = at once no more). */
  async rotate(id: string, graceSeconds: number, now = Date.now()): Promise<{ key: VirtualKey; secret: string } | undefined> {
    const key = this.byId.get(id);
    if (!key) return undefined;
    const secret = newSecret();
    const next: VirtualKey = { ...key, keySha256: sha256Hex(secret), keyPrefix: secret.slice(0, 7), previousSha256: key.keySha256, previousValidUntil: new Date(now + graceSeconds * 1000).toISOString() };
    await this.persist(next);
    return { key: next, secret };
  }

  /** Loads persisted keys and merges the policy's bootstrap keys (persisting new ones). */
  async load(policy: PolicyDocument): Promise<void> {
    await this.refresh();
    await this.applyPolicyKeys(policy);
  }

  async refresh(): Promise<void> {
    const result = await this.client.query({
      query: `SELECT * FROM ${this.database}.virtual_keys FINAL`,
      format: 'JSONEachRow',
    });
    for (const row of await result.json<KeyRow>()) this.remember(fromRow(row));
  }

  /**
   * Bootstrap keys follow the policy: new ones are added; ones no longer listed are revoked. A
   * revoked key (by an admin, or by leaving the policy) stays revoked even if a policy lists it:
   * give the developer a new key instead.
   */
  async applyPolicyKeys(policy: PolicyDocument): Promise<void> {
    const wanted = new Set<string>();
    const rows: KeyRow[] = [];
    for (const entry of policy.keys) {
      const keySha256 = entry.key_sha256 ?? sha256Hex(entry.key ?? '');
      const id = `boot_${keySha256.slice(0, 12)}`;
      wanted.add(id);
      const existing = this.byId.get(id);
      const key: VirtualKey = {
        id,
        keySha256,
        keyPrefix: entry.key ? entry.key.slice(0, 6) : '',
        developer: entry.developer,
        costCenter: entry.cost_center,
        repo: entry.repo ?? '',
        identity: entry.identity ?? '',
        tags: entry.tags,
        budgets: entry.budgets,
        source: 'bootstrap',
        createdBy: 'policy',
        createdAt: existing?.createdAt ?? nowText(),
        // Revocation wins over the policy's list: a revoked bootstrap key stays revoked across
        // restarts and policy reloads (a rollback to a version listing it does not revive it).
        revokedAt: existing?.revokedAt ?? null,
        // Lifecycle fields set through the admin API survive a policy reload.
        expiresAt: existing?.expiresAt ?? null,
        allowedModels: existing?.allowedModels ?? [],
        limits: existing?.limits,
        previousSha256: existing?.previousSha256 ?? '',
        previousValidUntil: existing?.previousValidUntil ?? null,
      };
      const changed = !existing || keyFingerprint(existing) !== keyFingerprint(key);
      this.remember(key);
      if (changed) rows.push(toRow(key));
    }
    for (const key of this.byId.values()) {
      if (key.source === 'bootstrap' && !wanted.has(key.id) && key.revokedAt === null) {
        const revoked = { ...key, revokedAt: nowText() };
        this.remember(revoked);
        rows.push(toRow(revoked));
      }
    }
    if (rows.length > 0) await this.client.insert({ table: `${this.database}.virtual_keys`, values: rows, format: 'JSONEachRow' });
  }

  /** Creates a key; the returned secret is shown once and only its hash is kept. */
  async create(input: CreateKeyInput, createdBy: string): Promise<{ key: VirtualKey; secret: string }> {
    const secret = newSecret();
    const key: VirtualKey = {
      id: `key_${randomBytes(8).toString('hex')}`,
      keySha256: sha256Hex(secret),
      keyPrefix: secret.slice(0, 7),
      developer: input.developer,
      costCenter: input.cost_center,
      repo: input.repo ?? '',
      identity: input.identity ?? '',
      tags: input.tags ?? [],
      budgets: input.budgets,
      source: 'admin',
      createdBy,
      createdAt: nowText(),
      revokedAt: null,
      expiresAt: input.expires_at ? new Date(input.expires_at).toISOString() : null,
      allowedModels: input.allowed_models ?? [],
      limits: input.limits,
      previousSha256: '',
      previousValidUntil: null,
    };
    await this.client.insert({ table: `${this.database}.virtual_keys`, values: [toRow(key)], format: 'JSONEachRow' });
    this.remember(key);
    return { key, secret };
  }

  async revoke(id: string): Promise<VirtualKey | undefined> {
    const key = this.byId.get(id);
    if (!key) return undefined;
    if (key.revokedAt !== null) return key;
    const revoked = { ...key, revokedAt: nowText() };
    this.remember(revoked);
    await this.client.insert({ table: `${this.database}.virtual_keys`, values: [toRow(revoked)], format: 'JSONEachRow' });
    return revoked;
  }

  /** Re-reads persisted keys periodically (other replicas' creations and revocations). */
  startRefreshing(intervalMillis: number, onError: (error: unknown) => void): void {
    this.refreshTimer = setInterval(() => void this.refresh().catch(onError), intervalMillis);
    this.refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.refreshTimer);
  }
}

/** Public view of a key for listings (never the hash). */
export function describeKey(key: VirtualKey) {
  return {
    id: key.id,
    key_prefix: key.keyPrefix,
    developer: key.developer,
    cost_center: key.costCenter,
    repo: key.repo,
    identity: key.identity,
    tags: key.tags,
    budgets: key.budgets ?? null,
    source: key.source,
    created_by: key.createdBy,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    expires_at: key.expiresAt,
    allowed_models: key.allowedModels,
    limits: key.limits ?? null,
    rotated_grace_until: key.previousSha256 ? key.previousValidUntil : null,
  };
}
