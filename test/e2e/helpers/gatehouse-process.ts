import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN } from '../../helpers/start-test-gatehouse.ts';

const ENTRY = join(import.meta.dirname, 'gatehouse-process-entry.ts');

/** A Gatehouse started as its own OS process (chDB binds one data dir per process). */
export interface GatehouseProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process logged so far (level `warn` unless GATEHOUSE_TEST_LOG says otherwise). */
  output(): string;
  /** Flushes the process's spans and runs `query` on its own ClickHouse (test IPC, not the admin API). */
  query<T>(query: string): Promise<T[]>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMillis`. */
  stop(graceMillis?: number): Promise<void>;
}

/**
 * Writes `gatehouse.yaml` + `policy.yaml` into `folder` and starts `startGatehouse` in a child
 * process; resolves with its URL once it listens. `extraConfig` is merged at the top level.
 */
export async function startGatehouseProcess(options: { folder: string; dataDir: string; providers: Record<string, unknown>; policy: Record<string, unknown>; extraConfig?: Record<string, unknown>; timeoutMillis?: number }): Promise<GatehouseProcess> {
  writeFileSync(join(options.folder, 'policy.yaml'), stringify(options.policy));
  const configFile = join(options.folder, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      data_dir: options.dataDir,
      admin: { tokens: [{ name: 'test-admin', role: 'admin', token: TEST_ADMIN_TOKEN }, { name: 'test-analyst', role: 'analyst', token: TEST_ANALYST_TOKEN }] },
      providers: options.providers,
      policy: 'policy.yaml',
      logging: { level: 'warn' },
      ...options.extraConfig,
    }),
  );
  const child = spawn(process.execPath, [ENTRY, configFile], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { PATH: process.env.PATH, GATEHOUSE_TEST_LOG: process.env.GATEHOUSE_TEST_LOG ?? 'warn' } });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse process did not start within ${options.timeoutMillis ?? 30_000} ms:\n${output}`));
    }, options.timeoutMillis ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /GATEHOUSE_READY (\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse process exited with ${code} before listening:\n${output}`));
    });
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  child.on('message', (message: { id: number; rows?: unknown[]; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.rows ?? []);
  });
  return {
    url,
    child,
    output: () => output,
    query<T>(query: string) {
      const id = ++nextId;
      return new Promise<T[]>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
        child.send({ id, query });
      });
    },
    async stop(graceMillis = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMillis);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Gateway processes sharing one Redis (distributed mode) under `folder`: one sub-folder and data dir each,
 * one system key file for all. Started one after the other: the first creates the shared key file.
 */
export async function startGatewaysOnRedis(options: { folder: string; names: string[]; redisUrl: string; keyPrefix: string; providers: Record<string, unknown>; policy: Record<string, unknown> }): Promise<GatehouseProcess[]> {
  const gateways: GatehouseProcess[] = [];
  for (const name of options.names) {
    const processFolder = join(options.folder, name);
    mkdirSync(processFolder);
    gateways.push(
      await startGatehouseProcess({
        folder: processFolder,
        dataDir: join(processFolder, 'data'),
        providers: options.providers,
        policy: options.policy,
        extraConfig: { redis: { url: options.redisUrl, key_prefix: options.keyPrefix }, system_key_file: join(options.folder, 'system-key.pem') },
      }),
    );
  }
  return gateways;
}
