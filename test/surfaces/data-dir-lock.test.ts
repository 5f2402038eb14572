import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { DATA_DIR_LOCK_FILE, DataDirInUseError } from '../../shared/storage/data-dir-lock.ts';

const ENTRY = resolve(import.meta.dirname, '../../bin/gatehouse.mjs');
const PROVIDERS = { openai: { type: 'openai', base_url: 'http://127.0.0.1:9', api_key: 'sk_test' } };
const folders: string[] = [];

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

/** The pid of a process that has exited (and been reaped): what a crashed owner leaves behind. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((done) => child.on('exit', done));
  return child.pid ?? 0;
}

describe('the data dir lock', () => {
  it('a second `gatehouse start` on a data dir in use exits 1 with one line naming the dir, the owner pid and what to do', async () => {
    const owner = await startTestGatehouse({ providers: PROVIDERS });
    try {
      const lockFile = join(owner.dataDir, DATA_DIR_LOCK_FILE);
      expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() });
      const second = await run(['start', '--config', join(dirname(owner.dataDir), 'gatehouse.yaml'), '--data-dir', owner.dataDir, '--port', '0']);
      expect(second.code).toBe(1);
      const lines = second.stderr.trim().split('\n');
      expect(lines, second.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`data dir ${owner.dataDir} is in use by another Gatehouse process (pid ${process.pid}`);
      expect(lines[0]).toContain(`kill ${process.pid}`);
      expect(lines[0]).toContain('--data-dir');
      expect(second.stderr).not.toMatch(/Cannot lock file|at \S+ \(file:/);
    } finally {
      await owner.stop({ keepData: true });
    }
    expect(existsSync(join(owner.dataDir, DATA_DIR_LOCK_FILE))).toBe(false);
    rmSync(dirname(owner.dataDir), { recursive: true, force: true });
  });

  it('a second start in the same process is refused too', async () => {
    const first = await startTestGatehouse({ providers: PROVIDERS });
    try {
      const error = await startTestGatehouse({ providers: PROVIDERS, dataDir: first.dataDir }).then(
        async (unexpected) => {
          await unexpected.stop({ keepData: true });
          return undefined;
        },
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(DataDirInUseError);
      expect((error as DataDirInUseError).owner.pid).toBe(process.pid);
    } finally {
      await first.stop();
    }
  });

  it('a lock left by a process that is gone (kill -9, power loss) does not block the next start', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
    folders.push(folder);
    const dataDir = join(folder, 'data');
    mkdirSync(dataDir, { recursive: true });
    const stale = { pid: await deadPid(), hostname: hostname(), started_at: '2026-01-01T00:00:00.000Z', command: 'gatehouse start' };
    writeFileSync(join(dataDir, DATA_DIR_LOCK_FILE), JSON.stringify(stale));
    const gatehouse = await startTestGatehouse({ providers: PROVIDERS, dataDir });
    try {
      expect(JSON.parse(readFileSync(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      await gatehouse.stop({ keepData: true });
    }
  });
});
