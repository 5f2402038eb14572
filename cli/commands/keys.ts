import type { Command } from 'commander';
import { CliError, type CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, addOutputOptions, type AdminOptions } from '../admin-client.ts';
import { formatTime, outputFormat, printRecords } from '../output.ts';

/** A virtual key as GET /admin/keys returns it (`key` only on create). */
interface KeyView {
  id: string;
  key?: string;
  key_prefix: string;
  developer: string;
  cost_center: string;
  repo: string;
  source: string;
  created_at: string;
  revoked_at: string | null;
}

interface CreateOptions extends AdminOptions {
  developer: string;
  costCenter: string;
  repo?: string;
  identity?: string;
  json?: boolean;
}

/** `gatehouse keys create|list|revoke`: virtual keys on the running gateway. */
export function registerKeysCommand(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('virtual keys: create, list, revoke');

  addAdminOptions(keys.command('create').description('create a virtual key (shown once)'))
    .requiredOption('--developer <name>', 'developer the key belongs to')
    .requiredOption('--cost-center <name>', 'cost center it spends from (must exist in the policy)')
    .option('--repo <repo>', 'repository the key is for (e.g. acme/web)')
    .option('--identity <id>', 'SSO identity (subject or e-mail) the key is bound to')
    .option('--json', 'print the created key as JSON')
    .action((options: CreateOptions) => createKey(options, io));

  addOutputOptions(addAdminOptions(keys.command('list').description('list virtual keys (never the secrets)')), 'keys').action((options: AdminOptions & { json?: boolean; csv?: boolean }) =>
    listKeys(options, io),
  );

  addAdminOptions(keys.command('revoke').description('revoke a key at once').argument('<id>', 'key id (see keys list)'))
    .option('--json', 'print the revoked key as JSON')
    .action((id: string, options: AdminOptions & { json?: boolean }) => revokeKey(id, options, io));
}

async function createKey(options: CreateOptions, io: CliIo): Promise<void> {
  const client = new AdminClient(options);
  const created = await client.json<KeyView>('POST', '/admin/keys', {
    developer: options.developer,
    cost_center: options.costCenter,
    ...(options.repo ? { repo: options.repo } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
  });
  if (options.json) return io.out(JSON.stringify(created, null, 2));
  io.out(`created ${created.id} for ${created.developer} (${created.cost_center})`);
  io.out(`key (shown once, store it now): ${created.key}`);
  io.out(`point Codex CLI at it: npx gatehouse codex-config --key ${created.key} --url ${client.baseUrl}`);
}

async function listKeys(options: AdminOptions & { json?: boolean; csv?: boolean }, io: CliIo): Promise<void> {
  const format = outputFormat(options);
  const { keys } = await new AdminClient(options).json<{ keys: KeyView[] }>('GET', '/admin/keys');
  printRecords(io, format, keys, [
    { heading: 'id', value: (key) => key.id },
    { heading: 'prefix', value: (key) => key.key_prefix },
    { heading: 'developer', value: (key) => key.developer },
    { heading: 'cost center', value: (key) => key.cost_center },
    { heading: 'repo', value: (key) => key.repo },
    { heading: 'source', value: (key) => key.source },
    { heading: 'created', value: (key) => formatTime(key.created_at) },
    { heading: 'revoked', value: (key) => formatTime(key.revoked_at) },
  ]);
}

async function revokeKey(id: string, options: AdminOptions & { json?: boolean }, io: CliIo): Promise<void> {
  if (!id.trim()) throw new CliError('keys revoke needs the key id (see keys list)');
  const revoked = await new AdminClient(options).json<KeyView>('DELETE', `/admin/keys/${encodeURIComponent(id)}`);
  if (options.json) return io.out(JSON.stringify(revoked, null, 2));
  io.out(`revoked ${revoked.id} (${revoked.developer}) at ${formatTime(revoked.revoked_at)}`);
}
