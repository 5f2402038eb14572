import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { AuditVerification } from '../../shared/audit/verify-audit-chain.ts';
import { CheckFailed, CliError, type CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, type AdminOptions } from '../admin-client.ts';

interface ExportOptions extends AdminOptions {
  since?: string;
  afterSeq?: string;
  action?: string;
  limit?: string;
  output?: string;
  pageSize: string;
}

/** `gatehouse audit export|verify`: the hash-chained audit log. */
export function registerAuditCommand(program: Command, io: CliIo): void {
  const audit = program.command('audit').description('the audit log: SIEM export and hash-chain verification');
  addAdminOptions(audit.command('export').description('export events as JSON Lines (for a SIEM), oldest first'))
    .option('--since <time>', 'only events at or after this ISO 8601 time')
    .option('--after-seq <n>', 'only events after this sequence number (resume an export)')
    .option('--action <name>', 'only this action, e.g. policy.approved')
    .option('--limit <n>', 'at most this many events')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--page-size <n>', 'events per request', '5000')
    .action((options: ExportOptions) => exportAudit(options, io));
  addAdminOptions(audit.command('verify').description('recompute the hash chain; exits 1 and names the first broken row'))
    .option('--json', 'print the verification as JSON')
    .action((options: AdminOptions & { json?: boolean }) => verifyAudit(options, io));
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(Number.isInteger(value) && value > 0)) throw new CliError(`--${name} must be a positive whole number, got "${raw}"`);
  return value;
}

/** Pages through the log by seq so a large export is complete, not cut at the server's page size. */
async function exportAudit(options: ExportOptions, io: CliIo): Promise<void> {
  const pageRows = positive('page-size', options.pageSize, 5000);
  const totalLimit = positive('limit', options.limit, Number.POSITIVE_INFINITY);
  let afterSeq = options.afterSeq !== undefined ? Number(options.afterSeq) : undefined;
  if (afterSeq !== undefined && !(Number.isInteger(afterSeq) && afterSeq >= 0)) throw new CliError(`--after-seq must be a sequence number, got "${options.afterSeq}"`);
  const client = new AdminClient(options);
  const lines: string[] = [];
  for (;;) {
    const query = new URLSearchParams();
    if (options.since) query.set('since', options.since);
    if (afterSeq !== undefined) query.set('after_seq', String(afterSeq));
    if (options.action) query.set('action', options.action);
    const want = Math.min(pageRows, totalLimit - lines.length);
    query.set('limit', String(want));
    const text = await (await client.request('GET', `/admin/audit?${query}`)).text();
    const page = text.split('\n').filter((line) => line.length > 0);
    lines.push(...page);
    if (page.length < want || lines.length >= totalLimit) break;
    afterSeq = (JSON.parse(page[page.length - 1]!) as { seq: number }).seq;
  }
  const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
  if (options.output) {
    await new Promise<void>((resolve, reject) => {
      const stream = createWriteStream(options.output as string);
      stream.on('error', reject);
      stream.end(text, () => resolve());
    });
    io.error(`wrote ${lines.length} events to ${options.output}`);
  } else if (text.length > 0) io.out(text);
}

async function verifyAudit(options: AdminOptions & { json?: boolean }, io: CliIo): Promise<void> {
  const result = await new AdminClient(options).json<AuditVerification>('GET', '/admin/audit/verify');
  const compared = (result.anchors ?? []).map((anchor) => `  compared with ${anchor.source}: seq ${anchor.seq}, ${anchor.status}\n`).join('');
  const nothing = (result.anchors ?? []).length === 0 ? '  no checkpoint outside audit_log to compare with: removed last rows would not show\n' : '';
  if (options.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else if (result.ok) io.out(`audit chain ok: ${result.rows} rows, seq ${result.firstSeq ?? '-'}..${result.lastSeq ?? '-'}, head ${result.headHash || '-'}\n${compared}${nothing}`);
  else {
    const broken = result.firstBroken;
    io.out(
      `audit chain BROKEN at seq ${broken?.seq} (${broken?.action}, ${broken?.ts}): ${broken?.reason}\n  expected ${broken?.expected}\n  found    ${broken?.actual}\n  ${result.rows - 1} rows before it verify\n${compared}${nothing}`,
    );
  }
  if (!result.ok) throw new CheckFailed('audit chain broken');
}
