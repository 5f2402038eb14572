import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse } from '../../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../../shared/clickhouse/migrate.ts';
import { BatchWriter } from '../../../shared/storage/batch-writer.ts';
import { DiskSpool } from '../../../shared/storage/disk-spool.ts';
import { generateEd25519KeyPair, signText, type Ed25519KeyPairPem } from '../../../shared/signing/ed25519.ts';
import { loadOrCreateSystemKey, type SystemKey } from '../../../shared/signing/system-key.ts';
import type { PolicyInput } from '../../../shared/policy/policy-schema.ts';

/** One chDB data dir per test file (chDB binds one per process; vitest forks per file). */
export interface ChdbFixture {
  dataDir: string;
  client: ClickHouseClient;
  database: string;
  cleanup(): Promise<void>;
}

export async function openChdb(label: string): Promise<ChdbFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), `gatehouse-${label}-`));
  const database = 'gatehouse';
  const client = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(client, database);
  return {
    dataDir,
    client,
    database,
    async cleanup() {
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function newWriter(client: ClickHouseClient, database: string, spoolDirectory: string): { writer: BatchWriter; spool: DiskSpool } {
  const spool = new DiskSpool(spoolDirectory, 64 * 1024 * 1024);
  const writer = new BatchWriter({ client, database, spool, flushIntervalMillis: 200, replayIntervalMillis: 60_000 });
  return { writer, spool };
}

export interface Approver {
  id: string;
  keys: Ed25519KeyPairPem;
  scopes: string[];
  sign(text: string): string;
}

export function newApprover(id: string, scopes: string[]): Approver {
  const keys = generateEd25519KeyPair();
  return { id, keys, scopes, sign: (text) => signText(keys.privateKeyPem, text) };
}

/** A small valid policy with two cost centers and the given approvers. */
export function basePolicy(approvers: Approver[]): PolicyInput {
  return {
    models: {
      'gpt-5.1': { provider: 'openai', upstream: 'gpt-5.1', price: { input: 1.25, cached_input: 0.125, output: 10 } },
      'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
    },
    cost_centers: {
      platform: { allowed_models: ['gpt-5.1'] },
      research: { allowed_models: ['gpt-5.1'] },
    },
    approvers: approvers.map((approver) => ({ id: approver.id, public_key: approver.keys.publicKeyPem, scopes: approver.scopes })),
  };
}

export function systemKeyIn(dataDir: string): SystemKey {
  return loadOrCreateSystemKey({ dataDir });
}

/** Polls `check` until it returns true or `timeoutMillis` passes; returns the elapsed millis. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMillis: number, intervalMillis = 25): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMillis) throw new Error(`condition not met within ${timeoutMillis} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMillis));
  }
  return Date.now() - started;
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}
