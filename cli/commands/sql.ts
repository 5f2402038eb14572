import type { Command } from 'commander';
import { CliError, type CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, addOutputOptions, type AdminOptions } from '../admin-client.ts';
import { outputFormat, printRecords } from '../output.ts';

/** `gatehouse sql "SELECT …"`: read-only SQL through the admin API (analyst role and up). */
export function registerSqlCommand(program: Command, io: CliIo): void {
  addOutputOptions(addAdminOptions(program.command('sql').description('run a read-only SQL query (analyst role and up)').argument('<query...>', 'the query, e.g. "SELECT count() FROM gatehouse.spans"')), 'rows').action(
    (words: string[], options: AdminOptions & { json?: boolean; csv?: boolean }) => runSql(words.join(' ').trim(), options, io),
  );
}

async function runSql(query: string, options: AdminOptions & { json?: boolean; csv?: boolean }, io: CliIo): Promise<void> {
  if (!query) throw new CliError('sql needs a query: gatehouse sql "SELECT …"');
  const format = outputFormat(options);
  const { rows } = await new AdminClient(options).json<{ rows: Record<string, unknown>[] }>('POST', '/admin/sql', { query });
  if (format === 'table' && rows.length === 0) return io.out('(no rows)');
  const columns = Object.keys(rows[0] ?? {}).map((name) => ({ heading: name, value: (row: Record<string, unknown>) => row[name] }));
  printRecords(io, format, rows, columns);
  if (format === 'table') io.out(`${rows.length} row${rows.length === 1 ? '' : 's'}`);
}
