import Table from 'cli-table3';
import { ADMIN_OPTIONS, adminRequest, adminTarget, CliError, parse, tableStyle, type CliIo } from '../cli-io.ts';

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

export async function runKeysCommand(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...ADMIN_OPTIONS,
    developer: { type: 'string' },
    'cost-center': { type: 'string' },
    repo: { type: 'string' },
    identity: { type: 'string' },
    json: { type: 'boolean' },
  });
  const target = adminTarget(values);
  if (action === 'create') {
    if (!values.developer || !values['cost-center']) throw new CliError('keys create needs --developer and --cost-center');
    const created = await adminRequest<KeyView>(target, 'POST', '/admin/keys', {
      developer: values.developer,
      cost_center: values['cost-center'],
      ...(values.repo ? { repo: values.repo } : {}),
      ...(values.identity ? { identity: values.identity } : {}),
    });
    if (values.json) io.out(JSON.stringify(created, null, 2));
    else {
      io.out(`created ${created.id} for ${created.developer} (${created.cost_center})`);
      io.out(`key (shown once, store it now): ${created.key}`);
      io.out(`point Codex CLI at it: npx gatehouse codex-config --key ${created.key} --url ${target.url}`);
    }
    return 0;
  }
  if (action === 'list') {
    const { keys } = await adminRequest<{ keys: KeyView[] }>(target, 'GET', '/admin/keys');
    if (values.json) {
      io.out(JSON.stringify(keys, null, 2));
      return 0;
    }
    const table = new Table({ head: ['id', 'prefix', 'developer', 'cost center', 'repo', 'source', 'created', 'revoked'], style: tableStyle() });
    for (const key of keys) table.push([key.id, key.key_prefix, key.developer, key.cost_center, key.repo, key.source, key.created_at, key.revoked_at ?? '']);
    io.out(table.toString());
    return 0;
  }
  if (action === 'revoke') {
    const id = positionals[0];
    if (!id) throw new CliError('keys revoke needs the key id (see keys list)');
    const revoked = await adminRequest<KeyView>(target, 'DELETE', `/admin/keys/${encodeURIComponent(id)}`);
    io.out(`revoked ${revoked.id} (${revoked.developer}) at ${revoked.revoked_at}`);
    return 0;
  }
  throw new CliError('usage: keys create --developer D --cost-center C [--repo R] | keys list | keys revoke ID');
}
