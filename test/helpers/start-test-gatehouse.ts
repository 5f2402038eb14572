import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import pino from 'pino';
import { startGatehouse, type RunningGatehouse, type Role } from '../../cli/start-gatehouse.ts';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import { drainPending } from 'chdb';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TEST_ANALYST_TOKEN = 'test-analyst-token-0123456789';
export const TEST_KEY = 'vk_test';

/** A minimal policy: one cost center allowed gpt-5.5 and gpt-5.1-mini on provider "openai". */
export function testPolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    models: {
      'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } },
      'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
    },
    cost_centers: { platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], allowed_providers: ['openai'] } },
    keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform', identity: 'alice@example.com' }],
    ...overrides,
  };
}

export interface TestGatehouseOptions {
  providers: Record<string, Record<string, unknown>>;
  policy?: Record<string, unknown>;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  configure?: (config: DeploymentConfig) => void;
  roles?: Role[];
  extraConfig?: Record<string, unknown>;
}

export interface TestGatehouse extends RunningGatehouse {
  dataDir: string;
  /** Closes the gateway and removes its data dir unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startTestGatehouse(options: TestGatehouseOptions): Promise<TestGatehouse> {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const dataDir = options.dataDir ?? join(folder, 'data');
  writeFileSync(join(folder, 'policy.yaml'), stringify(options.policy ?? testPolicy()));
  writeFileSync(
    join(folder, 'gatehouse.yaml'),
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      data_dir: dataDir,
      admin: { tokens: [{ name: 'test-admin', role: 'admin', token: TEST_ADMIN_TOKEN }, { name: 'test-analyst', role: 'analyst', token: TEST_ANALYST_TOKEN }] },
      providers: options.providers,
      policy: 'policy.yaml',
      logging: { level: 'warn' },
      ...options.extraConfig,
    }),
  );
  const running = await startGatehouse({
    configFile: join(folder, 'gatehouse.yaml'),
    environment: {},
    configure: options.configure,
    roles: options.roles,
    logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
  });
  return {
    ...running,
    dataDir,
    async stop(stopOptions = {}) {
      await running.close();
      // chDB binds one data directory per process: the next gateway of the file may open another only
      // once this one's last queries (spans still being flushed) have released the session.
      await drainPending();
      if (!stopOptions.keepData && !options.dataDir) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Polls ClickHouse until `query` returns at least `minimumRows` rows (spans are written in batches). */
export async function waitForRows<T>(gatehouse: RunningGatehouse, query: string, minimumRows: number, timeoutMillis = 15_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMillis;
  let rows: T[] = [];
  while (Date.now() < deadline) {
    await gatehouse.context.tracing.forceFlush();
    await gatehouse.writer.flush();
    const result = await gatehouse.clickhouse.query({ query, format: 'JSONEachRow' });
    rows = await result.json<T>();
    if (rows.length >= minimumRows) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return rows;
}
