import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { signText } from '../../shared/signing/ed25519.ts';
import { canonicalJson } from '../../shared/signing/canonical-json.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';
import { approvalDigest } from '../../shared/governance/approval-digest.ts';
import type { ProposalView } from '../../shared/governance/proposal-types.ts';
import { processIo, type CliIo } from '../cli-io.ts';
import { AdminClient, CONNECTION_OPTIONS, UsageError, runReportingErrors } from './admin-client.ts';


const USAGE = `usage: gatehouse policy <command> [options]   (--url URL --token TOKEN, or GATEHOUSE_URL / GATEHOUSE_TOKEN)
  show [--version N] [--json]                         the active policy (or version N)
  propose (--file POLICY.yaml | --patch PATCH.yaml|json) --justification TEXT [--author NAME] [--summary TEXT]
  diff ID [--json]                                    a proposal's diff and the digest approvers sign
  approve ID --key APPROVER.pem --approver ID [--id-token TOKEN]   signs the digest locally, then approves
  reject ID --reason TEXT
  history [--json]                                    every version, newest first
  rollback --to-version N --justification TEXT        proposes version N's document again (approve it like any proposal)
  proposals [--status pending|approved|rejected]
`;

interface PolicyView {
  version: number;
  hash: string;
  parent_hash: string;
  approved_by: string;
  document: unknown;
  refusal?: string | null;
}

interface VersionView {
  version: number;
  hash: string;
  status: string;
  active: boolean;
  signed_by: string;
  approved_by: string;
  proposal_id: string;
  justification: string;
  created_at: string;
}

function readStructured(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
}

function printProposal(io: CliIo, proposal: ProposalView): void {
  io.out(`proposal ${proposal.id} (${proposal.status}, ${proposal.source}) by ${proposal.author} against version ${proposal.base_version}\n`);
  if (proposal.summary) io.out(`summary: ${proposal.summary}\n`);
  io.out(`justification: ${proposal.justification}\n`);
  io.out(`cost centers: ${proposal.cost_centers.join(', ')}\n`);
  if (proposal.math !== null && proposal.math !== undefined) io.out(`math: ${JSON.stringify(proposal.math)}\n`);
  io.out(`\n${proposal.diff.text}\n\ndigest (what approvers sign):\n${proposal.digest}\n`);
}

/** `gatehouse policy …`; argv excludes "policy". Returns the exit code. */
export async function runPolicyCommand(argv: string[], io: CliIo = processIo): Promise<number> {
  return runReportingErrors(io, async () => {
    const [command, ...rest] = argv;
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...CONNECTION_OPTIONS,
        version: { type: 'string' },
        file: { type: 'string', short: 'f' },
        patch: { type: 'string' },
        justification: { type: 'string', short: 'j' },
        author: { type: 'string' },
        summary: { type: 'string' },
        key: { type: 'string', short: 'k' },
        approver: { type: 'string' },
        'id-token': { type: 'string' },
        reason: { type: 'string' },
        'to-version': { type: 'string' },
        status: { type: 'string' },
      },
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const env = process.env;
    const client = new AdminClient(values.url, values.token, env);
    const needId = (): string => {
      const id = positionals[0];
      if (!id) throw new UsageError(`policy ${command} needs a proposal id\n${USAGE}`);
      return id;
    };
    const print = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

    switch (command) {
      case 'show': {
        const policy = values.version
          ? await client.json<PolicyView>('GET', `/admin/policy/versions/${encodeURIComponent(values.version)}`)
          : await client.json<PolicyView>('GET', '/admin/policy');
        if (values.json) return print(policy), 0;
        io.out(`# version ${policy.version}  hash ${policy.hash}  parent ${policy.parent_hash || '-'}  approved by ${policy.approved_by}\n`);
        if (policy.refusal) io.out(`# WARNING: a newer stored version was refused: ${policy.refusal}\n`);
        io.out(stringifyYaml(policy.document));
        return 0;
      }
      case 'propose': {
        if (!values.justification) throw new UsageError('policy propose needs --justification');
        if (!values.file === !values.patch) throw new UsageError('policy propose needs exactly one of --file or --patch');
        const body = {
          ...(values.file ? { document: readStructured(values.file) } : { patch: readStructured(values.patch as string) }),
          justification: values.justification,
          ...(values.author ? { author: values.author } : {}),
          ...(values.summary ? { summary: values.summary } : {}),
        };
        const proposal = await client.json<ProposalView>('POST', '/admin/policy/proposals', body);
        if (values.json) return print(proposal), 0;
        printProposal(io, proposal);
        io.out(`\napprove with: gatehouse policy approve ${proposal.id} --key APPROVER.pem --approver APPROVER_ID\n`);
        return 0;
      }
      case 'diff': {
        const proposal = await client.json<ProposalView>('GET', `/admin/policy/proposals/${encodeURIComponent(needId())}`);
        if (values.json) return print(proposal), 0;
        printProposal(io, proposal);
        return 0;
      }
      case 'approve': {
        const id = needId();
        if (!values.key) throw new UsageError('policy approve needs --key APPROVER.pem (the approver\'s Ed25519 private key)');
        if (!values.approver && !values['id-token']) throw new UsageError('policy approve needs --approver ID');
        const proposal = await client.json<ProposalView & { document: unknown }>('GET', `/admin/policy/proposals/${encodeURIComponent(id)}`);
        // Recompute the digest from the document as received: sign only what was shown.
        const expected = approvalDigest({ proposalId: proposal.id, baseHash: proposal.base_hash, documentHash: sha256Hex(canonicalJson(proposal.document)) });
        if (proposal.id !== id || expected !== proposal.digest) {
          throw new Error(`refusing to sign: the digest the gateway sent does not match proposal ${id}'s document (expected:\n${expected})`);
        }
        if (!values.json) printProposal(io, proposal);
        // The digest is signed here, on the approver's machine; the private key never leaves it.
        const signature = signText(readFileSync(values.key, 'utf8'), proposal.digest);
        const result = await client.json<{ version: number }>('POST', `/admin/policy/proposals/${encodeURIComponent(id)}/approve`, {
          ...(values.approver ? { approver: values.approver } : {}),
          signature,
          ...(values['id-token'] ? { id_token: values['id-token'] } : {}),
        });
        if (values.json) return print(result), 0;
        io.out(`approved ${id}: policy version ${result.version} is active\n`);
        return 0;
      }
      case 'reject': {
        const id = needId();
        if (!values.reason) throw new UsageError('policy reject needs --reason');
        const proposal = await client.json<ProposalView>('POST', `/admin/policy/proposals/${encodeURIComponent(id)}/reject`, { reason: values.reason });
        if (values.json) return print(proposal), 0;
        io.out(`rejected ${proposal.id}\n`);
        return 0;
      }
      case 'history': {
        const { versions } = await client.json<{ versions: VersionView[] }>('GET', '/admin/policy/versions');
        if (values.json) return print(versions), 0;
        for (const version of versions) {
          io.out(
            `${version.active ? '*' : ' '} v${version.version}  ${version.created_at}  ${version.status.padEnd(11)}  approved by ${version.approved_by.padEnd(12)}  ${version.hash.slice(0, 12)}  ${version.justification}\n`,
          );
        }
        return 0;
      }
      case 'rollback': {
        const toVersion = Number(values['to-version']);
        if (!Number.isInteger(toVersion) || toVersion < 1) throw new UsageError('policy rollback needs --to-version N');
        if (!values.justification) throw new UsageError('policy rollback needs --justification');
        const proposal = await client.json<ProposalView>('POST', '/admin/policy/rollback', { to_version: toVersion, justification: values.justification });
        if (values.json) return print(proposal), 0;
        printProposal(io, proposal);
        io.out(`\napprove with: gatehouse policy approve ${proposal.id} --key APPROVER.pem --approver APPROVER_ID\n`);
        return 0;
      }
      case 'proposals': {
        const query = values.status ? `?status=${encodeURIComponent(values.status)}` : '';
        const { proposals } = await client.json<{ proposals: ProposalView[] }>('GET', `/admin/policy/proposals${query}`);
        if (values.json) return print(proposals), 0;
        for (const proposal of proposals) {
          io.out(`${proposal.id}  ${proposal.status.padEnd(8)}  ${proposal.source.padEnd(9)}  ${proposal.author}  ${proposal.summary || proposal.justification}\n`);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown policy command "${command}"\n${USAGE}`);
    }
  });
}
