import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { BudgetPair, PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { sha256Hex } from '../../shared/crypto/hashing.ts';

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
}

export interface CreateKeyInput {
  developer: string;
  cost_center: string;
  repo?: string | undefined;
  identity?: string | undefined;
  tags?: string[] | undefined;
  budgets?: BudgetPair | undefined;
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
  updated_at: string;
}

const nowText = () => new Date().toISOString();

const keyFingerprint = (key: VirtualKey) =>
  JSON.stringify([key.keySha256, key.developer, key.costCenter, key.repo, key.identity, key.tags, key.budgets ?? null, key.revokedAt]);

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
    const key = this.byHash.get(sha256Hex(presentedKey));
    return key && key.revokedAt === null ? key : undefined;
  }

  list(): VirtualKey[] {
    return [...this.byId.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  get(id: string): VirtualKey | undefined {
    return this.byId.get(id);
  }

  private remember(key: VirtualKey): void {
    const previous = this.byId.get(key.id);
    if (previous) this.byHash.delete(previous.keySha256);
    this.byId.set(key.id, key);
    this.byHash.set(key.keySha256, key);
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
    const secret = `gh_${randomBytes(24).toString('base64url')}`;
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
  };
}
