import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as stringifyYaml } from 'yaml';
import { generateEd25519KeyPair } from '../../shared/signing/ed25519.ts';
import { CliError, type CliIo } from '../cli-io.ts';

interface KeygenOptions {
  id: string;
  out: string;
  scope: string[];
  force?: boolean;
}

const APPROVER_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** `gatehouse approver keygen`: an approver's Ed25519 key pair and the policy block that lists them. */
export function registerApproverCommand(program: Command, io: CliIo): void {
  const approver = program.command('approver').description('policy approvers: make a signing key');
  approver
    .command('keygen')
    .description('write ID.key.pem (private, mode 0600) and ID.pub.pem, and print the policy block for the approver')
    .requiredOption('--id <id>', 'approver id as it will appear in the policy (e.g. carol)')
    .option('--out <dir>', 'folder to write the two files to', '.')
    .option('--scope <cost-center>', 'cost center the approver may approve for, repeatable; * = all, including approvers', collect, [])
    .option('--force', 'overwrite existing key files')
    .action((options: KeygenOptions) => keygen(options, io));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function keygen(options: KeygenOptions, io: CliIo): void {
  if (!APPROVER_ID.test(options.id)) throw new CliError(`--id must be letters, digits, ".", "_", "@" or "-" (up to 64), got "${options.id}"`);
  const folder = resolve(options.out);
  const privateFile = join(folder, `${options.id}.key.pem`);
  const publicFile = join(folder, `${options.id}.pub.pem`);
  for (const file of [privateFile, publicFile]) {
    if (existsSync(file) && !options.force) throw new CliError(`${file} exists; pass --force to replace it (the old key stops working once the policy lists the new one)`);
  }
  mkdirSync(folder, { recursive: true });
  const pair = generateEd25519KeyPair();
  writeFileSync(privateFile, pair.privateKeyPem, { mode: 0o600 });
  // writeFileSync's mode only applies to a new file (and is masked by umask): make sure of 0600.
  chmodSync(privateFile, 0o600);
  writeFileSync(publicFile, pair.publicKeyPem, { mode: 0o644 });
  const scopes = options.scope.length > 0 ? options.scope : ['*'];
  io.error(`wrote ${privateFile} (private: keep it on this machine, mode 0600) and ${publicFile}`);
  io.out(policyBlock(options.id, pair.publicKeyPem, scopes));
}

/** The `approvers:` entry for the policy, as YAML. */
export function policyBlock(id: string, publicKeyPem: string, scopes: string[]): string {
  return stringifyYaml({ approvers: [{ id, public_key: publicKeyPem, scopes }] });
}
