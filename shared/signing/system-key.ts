import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
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
  /** Deployment config `system_key_file`; relative paths resolve against `dataDir`. @defaultValue `<dataDir>/system-key.pem` */
  systemKeyFile?: string | undefined;
}

/**
 * Loads the system key, creating it (mode 0600, plus a `.pub.pem` beside it) when absent.
 * In distributed mode every gateway must be given the same `system_key_file`: the key verifies
 * version 1 and system rollbacks, and a gateway with another key refuses them.
 */
export function loadOrCreateSystemKey(options: SystemKeyOptions): SystemKey {
  const file = options.systemKeyFile
    ? isAbsolute(options.systemKeyFile)
      ? options.systemKeyFile
      : resolve(options.dataDir, options.systemKeyFile)
    : resolve(options.dataDir, 'system-key.pem');
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
