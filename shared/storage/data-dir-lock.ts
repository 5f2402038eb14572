import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** File in the data directory naming the process that owns it. */
export const DATA_DIR_LOCK_FILE = 'gatehouse.lock';

/** What the lock file records. */
export interface DataDirOwner {
  pid: number;
  hostname: string;
  started_at: string;
  /** The command line of the owner, to tell the user what to stop. */
  command: string;
}

/**
 * A second process on a data directory another live process owns. One line, naming the directory,
 * the owner and what to do; the CLI prints it without a stack trace (`exitCode` 1).
 */
export class DataDirInUseError extends Error {
  readonly code = 'GATEHOUSE_DATA_DIR_IN_USE';
  readonly exitCode = 1;
  readonly dataDir: string;
  readonly owner: DataDirOwner;
  constructor(dataDir: string, owner: DataDirOwner) {
    super(
      `data dir ${dataDir} is in use by another Gatehouse process (pid ${owner.pid}, started ${owner.started_at}): ` +
        `stop it first (kill ${owner.pid}), or start this one with another --data-dir (data_dir in the config)`,
    );
    this.dataDir = dataDir;
    this.owner = owner;
  }
}

/** A held lock; `release()` removes the file if it is still ours. Idempotent. */
export interface DataDirLock {
  readonly dataDir: string;
  release(): void;
}

/** Directories this process holds: a second start in the same process is refused too. */
const heldHere = new Set<string>();

function readOwner(file: string): DataDirOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DataDirOwner>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, hostname: String(parsed.hostname ?? ''), started_at: String(parsed.started_at ?? '?'), command: String(parsed.command ?? '') } : undefined;
  } catch {
    return undefined; // missing, half-written or not ours: treated as no owner
  }
}

/** Whether `pid` names a running process on this machine (EPERM: it runs, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed child its parent has not reaped yet still answers kill(0) but holds nothing (Linux). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false; // no procfs (macOS): trust kill(0)
  }
}

/**
 * Whether the recorded owner still holds the directory. A lock written on another host cannot be
 * checked and is taken over (a recreated container gets a new hostname; chDB's own file lock still
 * refuses a live engine). Our own pid counts only if this process took the lock: in a container
 * the restarted gateway often gets the pid its predecessor had.
 */
function ownerIsAlive(owner: DataDirOwner, dataDir: string): boolean {
  if (owner.hostname !== hostname()) return false;
  if (owner.pid === process.pid) return heldHere.has(dataDir);
  return isRunning(owner.pid);
}

/** Puts the owner file in place only if none exists: link() is atomic and never shows half a file. */
function createExclusively(file: string, owner: DataDirOwner): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(owner)}\n`);
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/**
 * Takes the data directory for this process: a pid file with a liveness check, so a crashed
 * owner (kill -9, power loss) never blocks the next start, and a live one is named in the error
 * instead of chDB's `Cannot lock file …/status` stack trace. (Two starts in the same instant on a
 * stale file can both pass; chDB's own lock still refuses the second engine.)
 * @throws DataDirInUseError when another live process owns the directory
 */
export function acquireDataDirLock(dataDirectory: string): DataDirLock {
  const dataDir = resolve(dataDirectory);
  mkdirSync(dataDir, { recursive: true });
  const file = resolve(dataDir, DATA_DIR_LOCK_FILE);
  const me: DataDirOwner = { pid: process.pid, hostname: hostname(), started_at: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  for (let attempt = 0; !createExclusively(file, me); attempt += 1) {
    const owner = readOwner(file);
    if (owner && ownerIsAlive(owner, dataDir)) throw new DataDirInUseError(dataDir, owner);
    if (attempt === 2) throw new Error(`cannot take ${file}: it keeps reappearing; remove it if no Gatehouse process uses ${dataDir}`);
    rmSync(file, { force: true }); // left by a process that is gone
  }
  heldHere.add(dataDir);
  let released = false;
  return {
    dataDir,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(dataDir);
      const current = readOwner(file);
      if (current?.pid === me.pid && current.started_at === me.started_at) rmSync(file, { force: true });
    },
  };
}

/**
 * chDB's own refusal (`Cannot lock file …/status`: something outside Gatehouse, e.g. `clickhouse
 * local`, has the embedded engine open) as one line; any other error unchanged.
 */
export function engineLockError(error: unknown, dataDir: string): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (!/Cannot lock file/i.test(message)) return error;
  const lockError = new Error(
    `data dir ${resolve(dataDir)}: the embedded ClickHouse in ${resolve(dataDir, 'clickhouse')} is open in another process ` +
      `(not a Gatehouse that holds ${DATA_DIR_LOCK_FILE}); stop it (fuser -v ${resolve(dataDir, 'clickhouse', 'status')} names it) or use another --data-dir`,
  );
  Object.assign(lockError, { exitCode: 1, code: 'GATEHOUSE_DATA_DIR_IN_USE', cause: error });
  return lockError;
}
