import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AuditVerification } from '../../shared/audit/verify-audit-chain.ts';
import { processIo, type CliIo } from '../cli-io.ts';
import { AdminClient, CONNECTION_OPTIONS, UsageError, runReportingErrors } from './admin-client.ts';

const USAGE = `usage: gatehouse audit <command> [options]   (--url URL --token TOKEN, or GATEHOUSE_URL / GATEHOUSE_TOKEN)
  export [--since ISO_TIME] [--after-seq N] [--action NAME] [--limit N] [--output FILE] [--page-size N]   JSON Lines for a SIEM
  verify [--json]                        recomputes the hash chain; exits 1 and names the first broken row
`;

/** `gatehouse audit …`; argv excludes "audit". Returns the exit code. */
export async function runAuditCommand(argv: string[], io: CliIo = processIo): Promise<number> {
  return runReportingErrors(io, async () => {
    const [command, ...rest] = argv;
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    const { values } = parseArgs({
      args: rest,
      allowPositionals: false,
      options: {
        ...CONNECTION_OPTIONS,
        since: { type: 'string' },
        'after-seq': { type: 'string' },
        action: { type: 'string' },
        limit: { type: 'string' },
        output: { type: 'string', short: 'o' },
        'page-size': { type: 'string' },
      },
    });
    const client = new AdminClient(values.url, values.token, process.env);
    switch (command) {
      case 'export': {
        // Pages through the log by seq so a large export is complete, not cut at the server's page size.
        const pageRows = values['page-size'] ? Number(values['page-size']) : 5000;
        if (!(pageRows > 0)) throw new UsageError('--page-size must be a positive number');
        const totalLimit = values.limit ? Number(values.limit) : Number.POSITIVE_INFINITY;
        if (!(totalLimit > 0)) throw new UsageError('--limit must be a positive number');
        let afterSeq = values['after-seq'] !== undefined ? Number(values['after-seq']) : undefined;
        const lines: string[] = [];
        for (;;) {
          const query = new URLSearchParams();
          if (values.since) query.set('since', values.since);
          if (afterSeq !== undefined) query.set('after_seq', String(afterSeq));
          if (values.action) query.set('action', values.action);
          const want = Math.min(pageRows, totalLimit - lines.length);
          query.set('limit', String(want));
          const text = await (await client.request('GET', `/admin/audit?${query}`)).text();
          const page = text.split('\n').filter((line) => line.length > 0);
          lines.push(...page);
          if (page.length < want || lines.length >= totalLimit) break;
          afterSeq = (JSON.parse(page[page.length - 1]!) as { seq: number }).seq;
        }
        const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
        if (values.output) {
          await new Promise<void>((resolve, reject) => {
            const stream = createWriteStream(values.output as string);
            stream.on('error', reject);
            stream.end(text, () => resolve());
          });
          io.error(`wrote ${lines.length} events to ${values.output}`);
        } else if (text.length > 0) io.out(text);
        return 0;
      }
      case 'verify': {
        const result = await client.json<AuditVerification>('GET', '/admin/audit/verify');
        if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
        else if (result.ok) io.out(`audit chain ok: ${result.rows} rows, seq ${result.firstSeq ?? '-'}..${result.lastSeq ?? '-'}, head ${result.headHash || '-'}\n`);
        else {
          const broken = result.firstBroken;
          io.out(
            `audit chain BROKEN at seq ${broken?.seq} (${broken?.action}, ${broken?.ts}): ${broken?.reason}\n  expected ${broken?.expected}\n  found    ${broken?.actual}\n  ${result.rows - 1} rows before it verify\n`,
          );
        }
        return result.ok ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown audit command "${command}"\n${USAGE}`);
    }
  });
}
