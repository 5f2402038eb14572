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
  expires_at?: string | null;
  allowed_models?: string[];
  tags?: string[];
  budgets?: { daily_usd?: number; monthly_usd?: number } | null;
  limits?: { rpm?: number; tpm?: number } | null;
  rotated_grace_until?: string | null;
}

/** Options shared by create and update: what a key may be given besides its owner. */
interface LifecycleOptions {
  budgetDailyUsd?: string;
  budgetMonthlyUsd?: string;
  tags?: string;
  expires?: string | boolean;
  models?: string;
  rpm?: string;
  tpm?: string;
}

interface CreateOptions extends AdminOptions, LifecycleOptions {
  developer: string;
  costCenter: string;
  repo?: string;
  identity?: string;
  json?: boolean;
}

/** `gatehouse keys create|list|revoke`: virtual keys on the running gateway. */
export function registerKeysCommand(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('virtual keys: create, list, update, rotate, revoke');

  const create = addAdminOptions(keys.command('create').description('create a virtual key (shown once)'))
    .requiredOption('--developer <name>', 'developer the key belongs to')
    .requiredOption('--cost-center <name>', 'cost center it spends from (must exist in the policy)')
    .option('--repo <repo>', 'repository the key is for (e.g. acme/web)')
    .option('--identity <id>', 'SSO identity (subject or e-mail) the key is bound to');
  addLifecycleOptions(create)
    .option('--json', 'print the created key as JSON')
    .action((options: CreateOptions) => createKey(options, io));

  const update = addAdminOptions(keys.command('update').description("change a key's budgets, tags, models, expiry or rate limits").argument('<id>', 'key id (see keys list)'))
    .option('--repo <repo>', 'repository the key is for')
    .option('--no-expires', 'remove the expiry')
    .option('--no-budget', "remove the key's own budgets");
  addLifecycleOptions(update)
    .option('--json', 'print the updated key as JSON')
    .action((id: string, options: AdminOptions & LifecycleOptions & { repo?: string; json?: boolean; budget?: boolean }) => updateKey(id, options, io));

  addAdminOptions(keys.command('rotate').description('give a key a new secret; the old one keeps working for a grace period').argument('<id>', 'key id (see keys list)'))
    .option('--grace <duration>', 'how long the old secret keeps working: 0, 90s, 30m, 12h, 7d', '1h')
    .option('--json', 'print the rotated key as JSON')
    .action((id: string, options: AdminOptions & { grace: string; json?: boolean }) => rotateKey(id, options, io));

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
    ...lifecycleBody(options),
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
    { heading: 'models', value: (key) => (key.allowed_models ?? []).join(' ') },
    { heading: 'limits', value: (key) => [key.limits?.rpm ? `${key.limits.rpm} rpm` : '', key.limits?.tpm ? `${key.limits.tpm} tpm` : ''].filter(Boolean).join(', ') },
    { heading: 'created', value: (key) => formatTime(key.created_at) },
    { heading: 'expires', value: (key) => formatTime(key.expires_at ?? null) },
    { heading: 'revoked', value: (key) => formatTime(key.revoked_at) },
  ]);
}

async function revokeKey(id: string, options: AdminOptions & { json?: boolean }, io: CliIo): Promise<void> {
  if (!id.trim()) throw new CliError('keys revoke needs the key id (see keys list)');
  const revoked = await new AdminClient(options).json<KeyView>('DELETE', `/admin/keys/${encodeURIComponent(id)}`);
  if (options.json) return io.out(JSON.stringify(revoked, null, 2));
  io.out(`revoked ${revoked.id} (${revoked.developer}) at ${formatTime(revoked.revoked_at)}`);
}

function addLifecycleOptions(command: Command): Command {
  return command
    .option('--budget-daily-usd <usd>', "the key's own daily budget in USD")
    .option('--budget-monthly-usd <usd>', "the key's own monthly budget in USD")
    .option('--tags <list>', 'comma-separated developer tags (routing rules can match them)')
    .option('--expires <when>', 'expiry: an ISO time with zone (2027-01-31T18:00:00Z) or a duration from now (90d, 12h)')
    .option('--models <list>', "comma-separated models the key may use (a subset of its cost center's)")
    .option('--rpm <n>', 'requests per minute for this key')
    .option('--tpm <n>', 'tokens per minute for this key');
}

const positive = (value: string, flag: string): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new CliError(`${flag} needs a positive number, got "${value}"`);
  return number;
};

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** `90s`, `30m`, `12h`, `7d` → seconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new CliError(`${flag} needs a duration like 0, 90s, 30m, 12h or 7d, got "${value}"`);
  return Number(match[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

function expiryOf(value: string): string {
  if (/^\d+\s*(s|m|h|d)$/.test(value.trim())) return new Date(Date.now() + parseDuration(value, '--expires') * 1000).toISOString();
  if (Number.isNaN(Date.parse(value)) || !/(Z|[+-]\d\d:?\d\d)$/.test(value)) throw new CliError(`--expires needs an ISO time with its zone (2027-01-31T18:00:00Z) or a duration (90d), got "${value}"`);
  return new Date(value).toISOString();
}

function lifecycleBody(options: LifecycleOptions): Record<string, unknown> {
  const budgets = {
    ...(options.budgetDailyUsd !== undefined ? { daily_usd: positive(options.budgetDailyUsd, '--budget-daily-usd') } : {}),
    ...(options.budgetMonthlyUsd !== undefined ? { monthly_usd: positive(options.budgetMonthlyUsd, '--budget-monthly-usd') } : {}),
  };
  const limits = {
    ...(options.rpm !== undefined ? { rpm: positive(options.rpm, '--rpm') } : {}),
    ...(options.tpm !== undefined ? { tpm: positive(options.tpm, '--tpm') } : {}),
  };
  return {
    ...(Object.keys(budgets).length > 0 ? { budgets } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    ...(options.tags !== undefined ? { tags: list(options.tags) } : {}),
    ...(typeof options.expires === 'string' ? { expires_at: expiryOf(options.expires) } : {}),
    ...(options.models !== undefined ? { allowed_models: list(options.models) } : {}),
  };
}

async function updateKey(id: string, options: AdminOptions & LifecycleOptions & { repo?: string; json?: boolean; budget?: boolean }, io: CliIo): Promise<void> {
  const body: Record<string, unknown> = {
    ...lifecycleBody(options),
    ...(options.repo !== undefined ? { repo: options.repo } : {}),
    ...(options.expires === false ? { expires_at: null } : {}),
    ...(options.budget === false ? { budgets: null } : {}),
  };
  if (Object.keys(body).length === 0) throw new CliError('keys update needs something to change: --budget-daily-usd, --budget-monthly-usd, --tags, --expires, --models, --rpm, --tpm, --repo, --no-expires or --no-budget');
  const updated = await new AdminClient(options).json<KeyView>('PATCH', `/admin/keys/${encodeURIComponent(id)}`, body);
  if (options.json) return io.out(JSON.stringify(updated, null, 2));
  io.out(`updated ${updated.id} (${updated.developer}): ${Object.keys(body).join(', ')}`);
}

async function rotateKey(id: string, options: AdminOptions & { grace: string; json?: boolean }, io: CliIo): Promise<void> {
  const graceSeconds = parseDuration(options.grace, '--grace');
  const rotated = await new AdminClient(options).json<KeyView>('POST', `/admin/keys/${encodeURIComponent(id)}/rotate`, { grace_seconds: graceSeconds });
  if (options.json) return io.out(JSON.stringify(rotated, null, 2));
  io.out(`rotated ${rotated.id} (${rotated.developer})`);
  io.out(`new key (shown once, store it now): ${rotated.key}`);
  io.out(graceSeconds > 0 ? `the old key keeps working until ${formatTime(rotated.rotated_grace_until ?? null)}` : 'the old key stopped working now');
}
