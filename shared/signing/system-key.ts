import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generateEd25519KeyPair, parseEd25519PrivateKey, publicKeyPemOf, signText } from './ed25519.ts';

/** The gateway's own signing identity: bootstrap policy version and automatic rollbacks. */
export interface SystemKey {
  /** Signer id written to `policy_versions.signed_by`. @defaultValue "system" */
  id: string;
  file: string;
  privateKey: KeyObject;
  publicKeyPem: string;
  sign(text: string): string;
}

export interface SystemKeyOptions {
  dataDir: string;
  /**
   * Deployment config `system_key_file`; relative paths resolve against `baseDir` (the config
   * file's folder), not the data dir. @defaultValue `<dataDir>/system-key.pem`
   */
  systemKeyFile?: string | undefined;
  /** Folder relative `systemKeyFile` paths resolve against. @defaultValue the current directory */
  baseDir?: string | undefined;
  /** Told when a relative key is found only at its old place under the data dir. */
  onWarning?: ((message: string) => void) | undefined;
}

/** Thrown when the key would sit where the embedded engine keeps (and could read) its files. */
export class SystemKeyLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SystemKeyLocationError';
  }
}

/**
 * Where the key lives. A given `system_key_file` resolves like the config's `policy` path (against
 * the config folder): an operator who names a key file means it to live with the config, away from
 * the data dir, which backups, volume mounts and the database engine see. A relative key an
 * earlier release put under the data dir is still used (with a warning to move it).
 */
export function systemKeyPath(options: SystemKeyOptions): string {
  const dataDir = resolve(options.dataDir);
  const given = options.systemKeyFile;
  let file = resolve(dataDir, 'system-key.pem');
  if (given) {
    file = resolve(options.baseDir ?? process.cwd(), given);
    const legacy = resolve(dataDir, given);
    if (!isAbsolute(given) && !existsSync(file) && existsSync(legacy)) {
      options.onWarning?.(`system_key_file ${given} now resolves against the config folder (${file}); using the old key at ${legacy} this time: move it there`);
      file = legacy;
    }
  }
  const engineDir = resolve(dataDir, 'clickhouse');
  const inside = relative(engineDir, file);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
    throw new SystemKeyLocationError(`system_key_file ${file} is inside the embedded ClickHouse directory ${engineDir}, which the database engine reads: put the key elsewhere (e.g. next to gatehouse.yaml)`);
  }
  return file;
}

/**
 * Loads the system key, creating it (mode 0600, plus a `.pub.pem` beside it) when absent.
 * In distributed mode every gateway must be given the same `system_key_file`: the key verifies
 * version 1 and system rollbacks, and a gateway with another key refuses them.
 */
export function loadOrCreateSystemKey(options: SystemKeyOptions): SystemKey {
  const file = systemKeyPath(options);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const pair = generateEd25519KeyPair();
    try {
      writeFileSync(file, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      writeFileSync(file.replace(/\.pem$/, '') + '.pub.pem', pair.publicKeyPem);
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const privateKey = parseEd25519PrivateKey(readFileSync(file, 'utf8'));
  return {
    id: 'system',
    file,
    privateKey,
    publicKeyPem: publicKeyPemOf(privateKey),
    sign: (text) => signText(privateKey, text),
  };
}
