import Table from 'cli-table3';
import { ADMIN_OPTIONS, adminRequest, adminTarget, CliError, parse, tableStyle, type CliIo } from '../cli-io.ts';

export async function runSqlCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...ADMIN_OPTIONS, json: { type: 'boolean' } });
  const query = positionals.join(' ').trim();
  if (!query) throw new CliError('usage: gatehouse sql "SELECT …" [--json]');
  const { rows } = await adminRequest<{ rows: Record<string, unknown>[] }>(adminTarget(values), 'POST', '/admin/sql', { query });
  if (values.json) {
    io.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    io.out('(no rows)');
    return 0;
  }
  const columns = Object.keys(rows[0] ?? {});
  const table = new Table({ head: columns, style: tableStyle() });
  for (const row of rows) table.push(columns.map((column) => formatCell(row[column])));
  io.out(table.toString());
  io.out(`${rows.length} row${rows.length === 1 ? '' : 's'}`);
  return 0;
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
