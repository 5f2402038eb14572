import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AuditVerification } from '../../shared/audit/verify-audit-chain.ts';
import { processIo, type CliIo } from '../cli-io.ts';
import { AdminClient, CONNECTION_OPTIONS, UsageError, runReportingErrors } from './admin-client.ts';

const USAGE = `usage: gatehouse audit <command> [options]   (--url URL --token TOKEN, or GATEHOUSE_URL / GATEHOUSE_TOKEN)
  export [--since ISO_TIME] [--after-seq N] [--action NAME] [--limit N] [--output FILE]   JSON Lines for a SIEM
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
      },
    });
    const client = new AdminClient(values.url, values.token, process.env);
    switch (command) {
      case 'export': {
        const query = new URLSearchParams();
        if (values.since) query.set('since', values.since);
        if (values['after-seq']) query.set('after_seq', values['after-seq']);
        if (values.action) query.set('action', values.action);
        if (values.limit) query.set('limit', values.limit);
        const text = await (await client.request('GET', `/admin/audit${query.size > 0 ? `?${query}` : ''}`)).text();
        if (values.output) {
          await new Promise<void>((resolve, reject) => {
            const stream = createWriteStream(values.output as string);
            stream.on('error', reject);
            stream.end(text, () => resolve());
          });
          io.error(`wrote ${text.split('\n').filter(Boolean).length} events to ${values.output}\n`);
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
