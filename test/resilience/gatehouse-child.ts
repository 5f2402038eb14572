import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { TEST_ADMIN_TOKEN } from '../helpers/start-test-gatehouse.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'gatehouse.mjs');

/** `node bin/gatehouse.mjs start --config …` as a real child process (what an operator runs). */
export interface GatehouseChild {
  url: string;
  child: ChildProcess;
  folder: string;
  dataDir: string;
  /** Everything the process printed so far. */
  output(): string;
  /**
   * Resident set size of the process from /proc (kB): peak (VmHWM), current (VmRSS), and its
   * anonymous part (RssAnon: heap, buffers) apart from file-backed pages (RssFile: mapped code,
   * mostly the embedded ClickHouse library).
   */
  memory(): { peakKb: number; currentKb: number; anonKb: number; fileKb: number };
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMillis`; removes the folder unless `keepData`. */
  stop(options?: { graceMillis?: number; keepData?: boolean }): Promise<void>;
}

/**
 * `command`: `start` (all roles, embedded; the default) or one role of a distributed deployment
 * (`gateway`, `collector`, …) with `extraConfig` giving its `clickhouse` and `redis`.
 */
export async function startGatehouseChild(options: { providers: Record<string, unknown>; policy: Record<string, unknown>; extraConfig?: Record<string, unknown>; timeoutMillis?: number; command?: 'start' | 'gateway' | 'collector' | 'evaluator' | 'optimizer'; env?: Record<string, string> }): Promise<GatehouseChild> {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-child-'));
  const dataDir = join(folder, 'data');
  writeFileSync(join(folder, 'policy.yaml'), stringify(options.policy));
  const configFile = join(folder, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      data_dir: dataDir,
      admin: { tokens: [{ name: 'test-admin', role: 'admin', token: TEST_ADMIN_TOKEN }] },
      providers: options.providers,
      policy: 'policy.yaml',
      logging: { level: 'warn' },
      ...options.extraConfig,
    }),
  );
  const child = spawn(process.execPath, [BIN, options.command ?? 'start', '--config', configFile], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...(process.env.GATEHOUSE_CHILD_NODE_OPTIONS ? { NODE_OPTIONS: process.env.GATEHOUSE_CHILD_NODE_OPTIONS } : {}), ...(process.env.GATEHOUSE_V8_FLAGS !== undefined ? { GATEHOUSE_V8_FLAGS: process.env.GATEHOUSE_V8_FLAGS } : {}), ...options.env } });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse did not start within ${options.timeoutMillis ?? 40_000} ms:\n${output}`));
    }, options.timeoutMillis ?? 40_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        clearInterval(poll);
        resolveUrl(match[1]);
      }
    }, 25);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`gatehouse exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  return {
    url,
    child,
    folder,
    dataDir,
    output: () => output,
    exited,
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const read = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
      return { peakKb: read('VmHWM'), currentKb: read('VmRSS'), anonKb: read('RssAnon'), fileKb: read('RssFile') };
    },
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), stopOptions.graceMillis ?? 20_000);
        await exited;
        clearTimeout(timer);
      }
      if (!stopOptions.keepData) rmSync(folder, { recursive: true, force: true });
    },
  };
}
