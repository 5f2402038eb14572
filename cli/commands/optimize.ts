import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { adminTarget, requestFailure, requireToken, RequestFailedError, unreachable, type CliIo } from '../cli-io.ts';
import { addAdminOptions, type AdminOptions } from '../admin-client.ts';
import { printRecords } from '../output.ts';

interface ResultLine {
  status: string;
  costCenter?: string;
  summary?: string;
  missing?: { requirement?: string; message?: string }[];
  reason?: string;
}

/** What the loop's exploration is learning for a cost center (optimizer/exploration-plan.ts). */
interface ExplorationLine {
  costCenter: string;
  summary: string;
  plan?: { candidate: string; share: number; expiresAt?: number };
  proposal?: string;
}

/** A plan the gateways apply now (the status's and the run's `plans`). */
interface PlanInForce {
  costCenter: string;
  candidate: string;
  share: number;
  expiresAt?: number;
}

interface OptimizeOptions extends AdminOptions {
  costCenter?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** `gatehouse optimize [--cost-center C] [--dry-run]`: runs the optimizer on the running gateway, with a progress bar. */
export function registerOptimizeCommand(program: Command, io: CliIo): void {
  addAdminOptions(program.command('optimize').description('run the optimizer now; files proposals for approval (progress bar)'))
    .option('--cost-center <name>', 'only this cost center')
    .option('--dry-run', 'show what it would propose, file nothing')
    .option('--json', 'print the result as JSON')
    .action((options: OptimizeOptions) => runOptimize(options, io));
}

async function runOptimize(values: OptimizeOptions, io: CliIo): Promise<void> {
  const target = adminTarget(values);
  requireToken(target);
  let response: Response;
  try {
    response = await fetch(`${target.url}/admin/optimizer/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ ...(values.costCenter ? { cost_center: values.costCenter } : {}), ...(values.dryRun ? { dry_run: true } : {}) }),
    });
  } catch (error) {
    throw unreachable(target.url, error);
  }
  if (!response.ok || !response.body) throw requestFailure('POST', '/admin/optimizer/run', response.status, await response.text());
  const bar = new cliProgress.SingleBar({ format: ' {costCenter} [{bar}] {value}/{total} evaluations · best saving {best}', hideCursor: true, stopOnComplete: false }, cliProgress.Presets.shades_classic);
  let started = false;
  let final: { proposals: { id: string; summary: string }[]; results: ResultLine[]; exploration?: ExplorationLine[]; plans?: PlanInForce[] } | undefined;
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (!line.trim()) continue;
      const message = JSON.parse(line) as { progress?: { costCenter: string; costCenterIndex: number; costCenterCount: number; evaluation: number; evaluations: number; bestMonthlySavingUsd: number | null }; result?: typeof final; error?: { message: string } };
      if (message.progress) {
        const { progress } = message;
        const payload = { costCenter: `${progress.costCenter} (${progress.costCenterIndex}/${progress.costCenterCount})`, best: progress.bestMonthlySavingUsd === null ? '–' : `$${progress.bestMonthlySavingUsd.toFixed(0)}/month` };
        if (!started) {
          bar.start(progress.evaluations, progress.evaluation, payload);
          started = true;
        } else {
          bar.setTotal(progress.evaluations);
          bar.update(progress.evaluation, payload);
        }
      } else if (message.result) final = message.result;
      else if (message.error) {
        if (started) bar.stop();
        throw new RequestFailedError(response.status, `optimizer failed: ${message.error.message}`);
      }
    }
  }
  if (started) bar.stop();
  if (!final) throw new RequestFailedError(response.status, 'the gateway closed the stream before the optimizer finished');
  if (values.json) return io.out(JSON.stringify(final, null, 2));
  // The "what" column carries long warm-up explanations: the table wraps them to the terminal's width.
  printRecords(io, 'table', final.results, [
    { heading: 'cost center', value: (result) => result.costCenter ?? '' },
    { heading: 'status', value: (result) => result.status },
    { heading: 'what', value: (result) => result.summary ?? result.missing?.map((item) => item.message ?? item.requirement).join('; ') ?? result.reason ?? '' },
  ]);
  printExploration(io, final.exploration ?? [], values.dryRun === true);
  for (const plan of final.plans ?? []) io.out(`exploration plan in force for ${plan.costCenter}: ${plan.candidate} on ≤ ${(plan.share * 100).toFixed(1)}% of sessions${plan.expiresAt !== undefined ? ` until ${new Date(plan.expiresAt).toISOString()}` : ''}`);
  if (values.dryRun) io.out('dry run: nothing was proposed.');
  else if (final.proposals.length > 0) for (const proposal of final.proposals) io.out(`proposal ${proposal.id} filed for approval: ${proposal.summary}\n  review: npx gatehouse policy diff ${proposal.id}`);
  else io.out('no new proposal.');
}

/** One line per exploring cost center: the plan (published, or in a dry run what would be), and a proposal its evidence made. */
function printExploration(io: CliIo, lines: readonly ExplorationLine[], dryRun: boolean): void {
  for (const line of lines) {
    const until = line.plan?.expiresAt !== undefined ? ` until ${new Date(line.plan.expiresAt).toISOString()}` : '';
    const plan = line.plan ? ` — plan${dryRun ? ' (not published: dry run)' : ''}: ${line.plan.candidate} on ≤ ${(line.plan.share * 100).toFixed(1)}% of sessions${until}` : '';
    io.out(`exploration: ${line.summary}${plan}`);
    if (line.proposal) io.out(`  from exploration: ${line.proposal}`);
  }
}
