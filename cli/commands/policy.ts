import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { signText } from '../../shared/signing/ed25519.ts';
import { canonicalJson } from '../../shared/signing/canonical-json.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';
import { approvalDigest } from '../../shared/governance/approval-digest.ts';
import type { ProposalView } from '../../shared/governance/proposal-types.ts';
import type { PolicyVersionStatus, PolicyVersionView } from '../../shared/governance/policy-version-view.ts';
import { CliError, type CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, addOutputOptions, type AdminOptions } from '../admin-client.ts';
import { formatTime, outputFormat, printRecords } from '../output.ts';

interface PolicyView {
  version: number;
  hash: string;
  parent_hash: string;
  approved_by: string;
  document: unknown;
  refusal?: string | null;
}

/** A version as `GET /admin/policy/versions` answers it; a status a newer server may add passes through. */
type VersionView = Omit<PolicyVersionView, 'status'> & { status: PolicyVersionStatus | (string & {}) };

type Options = AdminOptions & { json?: boolean; csv?: boolean } & Record<string, string | boolean | undefined>;

const APPROVE_HINT = (id: string) => `\napprove with: gatehouse policy approve ${id} --key APPROVER.key.pem --approver APPROVER_ID\n`;

/** `gatehouse policy …`: the signed policy workflow on the running gateway. */
export function registerPolicyCommand(program: Command, io: CliIo): void {
  const policy = program.command('policy').description('the signed policy workflow: show, propose, diff, approve, reject, history, rollback, proposals');
  const sub = (name: string, description: string) => addAdminOptions(policy.command(name).description(description));

  sub('show', 'the active policy (or version N) as YAML')
    .option('--version <n>', 'a stored version instead of the active one')
    .option('--json', 'print version, hashes and document as JSON')
    .action((options: Options) => showPolicy(options, io));
  sub('propose', 'propose a new policy (a whole document or a merge patch) for approval')
    .option('-f, --file <policy.yaml>', 'the whole new policy document (YAML or JSON)')
    .option('--patch <patch.yaml>', 'a JSON Merge Patch (RFC 7386) on the active policy (YAML or JSON)')
    .requiredOption('-j, --justification <text>', 'why (shown to approvers, kept in the audit log)')
    .option('--author <name>', 'who wrote it (default: the token\'s name)')
    .option('--summary <text>', 'one line for approvers')
    .option('--json', 'print the proposal as JSON')
    .action((options: Options) => proposePolicy(options, io));
  sub('diff', 'a proposal\'s diff and the digest approvers sign')
    .argument('<id>', 'proposal id')
    .option('--json', 'print the proposal as JSON')
    .action((id: string, options: Options) => showProposal(id, options, io));
  sub('approve', 'sign a proposal\'s digest locally with an approver key, then approve it')
    .argument('<id>', 'proposal id')
    .requiredOption('-k, --key <file.key.pem>', 'the approver\'s Ed25519 private key (gatehouse approver keygen); it never leaves this machine')
    .option('--approver <id>', 'approver id as listed in the policy')
    .option('--id-token <token>', 'OIDC ID token of the approver instead of --approver')
    .option('--json', 'print the result as JSON')
    .action((id: string, options: Options) => approveProposal(id, options, io));
  sub('reject', 'reject a proposal')
    .argument('<id>', 'proposal id')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'print the proposal as JSON')
    .action((id: string, options: Options) => rejectProposal(id, options, io));
  addOutputOptions(sub('history', 'every policy version, newest first, with its status (active, superseded, rolled_back, refused)'), 'versions').action((options: Options) =>
    showHistory(options, io),
  );
  sub('rollback', 'propose version N\'s document again (approve it like any proposal)')
    .requiredOption('--to-version <n>', 'the version to return to')
    .requiredOption('-j, --justification <text>', 'why')
    .option('--json', 'print the proposal as JSON')
    .action((options: Options) => rollbackPolicy(options, io));
  addOutputOptions(sub('proposals', 'list proposals'), 'proposals')
    .option('--status <status>', 'only pending, approved or rejected')
    .action((options: Options) => listProposals(options, io));
}

function readStructured(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CliError(`${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

function printProposal(io: CliIo, proposal: ProposalView): void {
  io.out(`proposal ${proposal.id} (${proposal.status}, ${proposal.source}) by ${proposal.author} against version ${proposal.base_version}\n`);
  if (proposal.summary) io.out(`summary: ${proposal.summary}\n`);
  io.out(`justification: ${proposal.justification}\n`);
  io.out(`cost centers: ${proposal.cost_centers.join(', ')}\n`);
  if (proposal.math !== null && proposal.math !== undefined) io.out(`math: ${JSON.stringify(proposal.math)}\n`);
  io.out(`\n${proposal.diff.text}\n\ndigest (what approvers sign):\n${proposal.digest}\n`);
}

async function showPolicy(options: Options, io: CliIo): Promise<void> {
  const client = new AdminClient(options);
  const path = options.version ? `/admin/policy/versions/${encodeURIComponent(String(options.version))}` : '/admin/policy';
  const policy = await client.json<PolicyView>('GET', path);
  if (options.json) return printJson(io, policy);
  io.out(`# version ${policy.version}  hash ${policy.hash}  parent ${policy.parent_hash || '-'}  approved by ${policy.approved_by}\n`);
  if (policy.refusal) io.out(`# WARNING: a newer stored version was refused: ${policy.refusal}\n`);
  io.out(stringifyYaml(policy.document));
}

async function proposePolicy(options: Options, io: CliIo): Promise<void> {
  if (!options.file === !options.patch) throw new CliError('policy propose needs exactly one of --file or --patch');
  const body = {
    ...(options.file ? { document: readStructured(String(options.file)) } : { patch: readStructured(String(options.patch)) }),
    justification: options.justification,
    ...(options.author ? { author: options.author } : {}),
    ...(options.summary ? { summary: options.summary } : {}),
  };
  const proposal = await new AdminClient(options).json<ProposalView>('POST', '/admin/policy/proposals', body);
  if (options.json) return printJson(io, proposal);
  printProposal(io, proposal);
  io.out(APPROVE_HINT(proposal.id));
}

async function showProposal(id: string, options: Options, io: CliIo): Promise<void> {
  const proposal = await new AdminClient(options).json<ProposalView>('GET', `/admin/policy/proposals/${encodeURIComponent(id)}`);
  if (options.json) return printJson(io, proposal);
  printProposal(io, proposal);
}

async function approveProposal(id: string, options: Options, io: CliIo): Promise<void> {
  if (!options.approver && !options.idToken) throw new CliError('policy approve needs --approver ID (or --id-token TOKEN)');
  let privateKey: string;
  try {
    privateKey = readFileSync(String(options.key), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the approver key ${options.key}: ${(error as Error).message}`);
  }
  const client = new AdminClient(options);
  const proposal = await client.json<ProposalView & { document: unknown }>('GET', `/admin/policy/proposals/${encodeURIComponent(id)}`);
  // Recompute the digest from the document as received: sign only what was shown.
  const expected = approvalDigest({ proposalId: proposal.id, baseHash: proposal.base_hash, documentHash: sha256Hex(canonicalJson(proposal.document)) });
  if (proposal.id !== id || expected !== proposal.digest) {
    throw new Error(`refusing to sign: the digest the gateway sent does not match proposal ${id}'s document (expected:\n${expected})`);
  }
  if (!options.json) printProposal(io, proposal);
  // The digest is signed here, on the approver's machine; the private key never leaves it.
  const signature = signText(privateKey, proposal.digest);
  const result = await client.json<{ version: number; bootstrap?: boolean }>('POST', `/admin/policy/proposals/${encodeURIComponent(id)}/approve`, {
    ...(options.approver ? { approver: options.approver } : {}),
    signature,
    ...(options.idToken ? { id_token: options.idToken } : {}),
  });
  if (options.json) return printJson(io, result);
  io.out(`approved ${id}: policy version ${result.version} is active\n`);
}

async function rejectProposal(id: string, options: Options, io: CliIo): Promise<void> {
  const proposal = await new AdminClient(options).json<ProposalView>('POST', `/admin/policy/proposals/${encodeURIComponent(id)}/reject`, { reason: options.reason });
  if (options.json) return printJson(io, proposal);
  io.out(`rejected ${proposal.id}\n`);
}

async function showHistory(options: Options, io: CliIo): Promise<void> {
  const format = outputFormat(options);
  const { versions } = await new AdminClient(options).json<{ versions: VersionView[] }>('GET', '/admin/policy/versions');
  if (format !== 'table') return printRecords(io, format, versions, HISTORY_COLUMNS);
  // One line per version; `*` marks the one being served.
  for (const version of versions) {
    io.out(
      `${version.active ? '*' : ' '} v${version.version}  ${formatTime(version.created_at)}  ${version.status.padEnd(11)}  approved by ${version.approved_by.padEnd(12)}  ${version.hash.slice(0, 12)}  ${version.justification}\n`,
    );
  }
}

const HISTORY_COLUMNS = [
  { heading: 'version', value: (version: VersionView) => version.version },
  { heading: 'status', value: (version: VersionView) => version.status },
  { heading: 'created_at', value: (version: VersionView) => formatTime(version.created_at) },
  { heading: 'approved_by', value: (version: VersionView) => version.approved_by },
  { heading: 'hash', value: (version: VersionView) => version.hash },
  { heading: 'proposal_id', value: (version: VersionView) => version.proposal_id },
  { heading: 'justification', value: (version: VersionView) => version.justification },
];

async function rollbackPolicy(options: Options, io: CliIo): Promise<void> {
  const toVersion = Number(options.toVersion);
  if (!Number.isInteger(toVersion) || toVersion < 1) throw new CliError(`--to-version must be a version number, got "${options.toVersion}"`);
  const proposal = await new AdminClient(options).json<ProposalView>('POST', '/admin/policy/rollback', { to_version: toVersion, justification: options.justification });
  if (options.json) return printJson(io, proposal);
  printProposal(io, proposal);
  io.out(APPROVE_HINT(proposal.id));
}

async function listProposals(options: Options, io: CliIo): Promise<void> {
  const format = outputFormat(options);
  const query = options.status ? `?status=${encodeURIComponent(String(options.status))}` : '';
  const { proposals } = await new AdminClient(options).json<{ proposals: ProposalView[] }>('GET', `/admin/policy/proposals${query}`);
  printRecords(io, format, proposals, [
    { heading: 'id', value: (proposal) => proposal.id },
    { heading: 'status', value: (proposal) => proposal.status },
    { heading: 'source', value: (proposal) => proposal.source },
    { heading: 'author', value: (proposal) => proposal.author },
    { heading: 'created', value: (proposal) => formatTime(proposal.created_at) },
    { heading: 'summary', value: (proposal) => proposal.summary || proposal.justification },
  ]);
}
