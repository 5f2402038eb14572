import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as stringifyYaml } from 'yaml';
import { generateEd25519KeyPair, parseEd25519PublicKey } from '../../shared/signing/ed25519.ts';
import type { ProposalView } from '../../shared/governance/proposal-types.ts';
import { CliError, type CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, type AdminOptions } from '../admin-client.ts';

interface KeygenOptions {
  id: string;
  out: string;
  scope: string[];
  force?: boolean;
}

const APPROVER_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** `gatehouse approver keygen`: an approver's Ed25519 key pair and the policy block that lists them. */
export function registerApproverCommand(program: Command, io: CliIo): void {
  const approver = program.command('approver').description('policy approvers: make a signing key, propose adding an approver');
  approver
    .command('keygen')
    .description('write ID.key.pem (private, mode 0600) and ID.pub.pem, and print the policy block for the approver')
    .requiredOption('--id <id>', 'approver id as it will appear in the policy (e.g. carol)')
    .option('--out <dir>', 'folder to write the two files to', '.')
    .option('--scope <cost-center>', 'cost center the approver may approve for, repeatable; * = all, including approvers', collect, [])
    .option('--force', 'overwrite existing key files')
    .action((options: KeygenOptions) => keygen(options, io));
  addAdminOptions(approver.command('add').description('propose adding (or replacing) an approver in the active policy; approve it like any proposal'))
    .requiredOption('--id <id>', 'approver id')
    .requiredOption('--public-key <file.pub.pem>', 'the approver\'s public key (from approver keygen)')
    .option('--scope <cost-center>', 'cost center the approver may approve for, repeatable; * = all, including approvers', collect, [])
    .requiredOption('-j, --justification <text>', 'why (shown to approvers, kept in the audit log)')
    .option('--json', 'print the proposal as JSON')
    .action((options: AddOptions) => addApprover(options, io));
}

interface AddOptions extends AdminOptions {
  id: string;
  publicKey: string;
  scope: string[];
  justification: string;
  json?: boolean;
}

/**
 * A merge patch replaces arrays whole, so adding one approver by hand means restating every other one;
 * this reads the active list and proposes it with the new approver added (or replaced, same id).
 */
async function addApprover(options: AddOptions, io: CliIo): Promise<void> {
  if (!APPROVER_ID.test(options.id)) throw new CliError(`--id must be letters, digits, ".", "_", "@" or "-" (up to 64), got "${options.id}"`);
  let publicKey: string;
  try {
    publicKey = readFileSync(options.publicKey, 'utf8');
    parseEd25519PublicKey(publicKey);
  } catch (error) {
    throw new CliError(`--public-key ${options.publicKey} is not an Ed25519 public key (PEM): ${(error as Error).message}`);
  }
  const client = new AdminClient(options);
  const active = await client.json<{ version: number; document: { approvers?: { id: string }[] } }>('GET', '/admin/policy');
  const others = (active.document.approvers ?? []).filter((existing) => existing.id !== options.id);
  const scopes = options.scope.length > 0 ? options.scope : ['*'];
  const proposal = await client.json<ProposalView>('POST', '/admin/policy/proposals', {
    patch: { approvers: [...others, { id: options.id, public_key: publicKey, scopes }] },
    justification: options.justification,
    summary: `${others.length === active.document.approvers?.length ? 'Add' : 'Replace'} approver ${options.id} (scopes ${scopes.join(', ')})`,
  });
  if (options.json) return io.out(JSON.stringify(proposal, null, 2));
  io.out(`proposal ${proposal.id}: ${proposal.summary}\n\n${proposal.diff.text}\n`);
  io.out(
    (active.document.approvers ?? []).length === 0
      ? `the active policy lists no approvers: approve with an admin token, signed by ${options.id}'s new key (first-approvers rule):\n  npx gatehouse policy approve ${proposal.id} --key ${options.id}.key.pem --approver ${options.id}`
      : `an approver with scope * signs it:\n  npx gatehouse policy approve ${proposal.id} --key APPROVER.key.pem --approver APPROVER_ID`,
  );
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
  io.error(`next: npx gatehouse approver add --id ${options.id} --public-key ${publicFile} --justification "…"   (or paste the block below into a proposal)`);
  io.out(policyBlock(options.id, pair.publicKeyPem, scopes));
}

/** The `approvers:` entry for the policy, as YAML. */
export function policyBlock(id: string, publicKeyPem: string, scopes: string[]): string {
  return stringifyYaml({ approvers: [{ id, public_key: publicKeyPem, scopes }] });
}
