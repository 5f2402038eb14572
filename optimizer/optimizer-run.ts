import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';
import type { ProposalView } from '../shared/governance/proposal-types.ts';
import type { ExplorationPlan } from '../shared/exploration/exploration-plan.ts';
import type { OptimizerProgress } from './optimize-segments.ts';
import type { OptimizerProposal, OptimizerResult } from './proposal.ts';
import type { CostCenterExploration } from './exploration-plan.ts';
import type { OptimizerGovernance } from './optimizer-governance.ts';
import { runOptimizerWithData } from './run-optimizer.ts';
import { exploreCostCenters } from './read-exploration.ts';
import { coolDown, guardRollbacks, rolledBackRecently, ROLLBACK_COOLDOWN_DAYS, type GuardRollback } from './rollback-orchestration.ts';
import { explorationProposal, type ExplorationProposal } from './exploration-proposal.ts';

export interface OptimizerRun {
  results: OptimizerResult[];
  /** Proposals filed with governance by this run (none in dry-run, none for duplicates). Stale optimizer proposals (made against an older version) are rejected as superseded. */
  proposals: ProposalView[];
  /** The exploration of each cost center of the run with `exploration_share > 0`, and the plan it published (not in dry run). */
  exploration: CostCenterExploration[];
}

export interface RunInput {
  costCenter?: string | undefined;
  dryRun?: boolean | undefined;
  onProgress?: ((progress: OptimizerProgress) => void) | undefined;
}

/** Where plans go: the gateways' board (shared/exploration/exploration-board.ts), in process or through Redis. */
export interface ExplorationPublisher {
  get(costCenter: string): ExplorationPlan | undefined;
  all(): ExplorationPlan[];
  publish(costCenter: string, plan: ExplorationPlan | undefined): Promise<void>;
}

export interface OptimizerRunOptions {
  config: DeploymentConfig;
  clickhouse: ClickHouseClient;
  database: string;
  governance: OptimizerGovernance;
  logger: Logger;
  plans?: ExplorationPublisher | undefined;
}

/** The last whole-policy run, for GET /admin/optimizer/status (the console's warm-up view). */
export interface LastRun {
  at: string;
  results: OptimizerResult[];
  exploration: CostCenterExploration[];
}

/** How long a published plan lives without a newer run: two scheduled runs missed, unless configured. */
export function explorationTtlMillis(config: DeploymentConfig): number {
  return (config.optimizer.exploration_ttl_seconds ?? 2 * config.optimizer.interval_seconds) * 1000;
}

/**
 * One optimizer run: search (run-optimizer.ts), the rollback cool-down, the exploration of what
 * history cannot score, then — unless a dry run — the plans published and the proposals filed with
 * governance (never activated: an approver must sign).
 */
export function createOptimizerRun(options: OptimizerRunOptions): { run(input?: RunInput): Promise<OptimizerRun>; last(): LastRun | undefined } {
  let last: LastRun | undefined;
  const run = async (input: RunInput = {}): Promise<OptimizerRun> => {
    const policy = options.governance.store.current();
    const found = await runOptimizerWithData({ clickhouse: options.clickhouse, database: options.database, policy: policy.document, costCenter: input.costCenter, seed: options.config.optimizer.seed, onProgress: input.onProgress });
    const rollbacks = guardRollbacks(await options.governance.store.versions(), new Date(Date.now() - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    const results = found.results.map((result) => coolDown(result, rollbacks));
    const scope = input.costCenter === undefined ? Object.keys(policy.document.cost_centers).sort() : [input.costCenter];
    const explored = await exploreCostCenters({ clickhouse: options.clickhouse, database: options.database, policy: policy.document, costCenters: scope, aggregates: found.aggregates, observedDays: found.observedDays, ttlMillis: explorationTtlMillis(options.config) }).catch((error: unknown) => {
      // The plans already published run until they expire (none is withdrawn); the proposals of this run still go out.
      options.logger.warn({ err: { message: (error as Error).message } }, 'optimizer exploration failed; published plans run until they expire');
      return undefined;
    });
    const exploration = explored ?? [];
    const learnt = learntProposals(exploration, policy.document, options.config.optimizer.seed, rollbacks);
    if (input.costCenter === undefined) last = { at: new Date().toISOString(), results, exploration };
    if (input.dryRun) return { results, proposals: [], exploration };
    if (options.plans && explored) await publishPlans(options.plans, scope, explored);
    return { results, proposals: await fileProposals(options.governance, policy, [...results.flatMap((result) => (result.status === 'proposal' ? [result] : [])), ...learnt], input.costCenter), exploration };
  };
  return { run, last: () => last };
}

/**
 * Proposals from exploration's proposable effort candidates (exploration-proposal.ts), except a change
 * the guard rolled back within the cool-down; each cost center's entry names it (`proposal`).
 */
function learntProposals(exploration: CostCenterExploration[], policy: PolicyDocument, seed: number, rollbacks: readonly GuardRollback[]): ExplorationProposal[] {
  const proposals: ExplorationProposal[] = [];
  for (const entry of exploration) {
    const proposal = explorationProposal(entry, policy, seed);
    if (!proposal) continue;
    const rollback = rolledBackRecently(proposal.rule, rollbacks);
    entry.proposal = rollback ? `${proposal.summary} — not proposed: rolled back by the rollback guard at ${rollback.at.toISOString()}` : proposal.summary;
    if (!rollback) proposals.push(proposal);
  }
  return proposals;
}

/** Each cost center of the run gets its new plan, or loses the one it had (exploration turned off, nothing left to learn). */
async function publishPlans(plans: ExplorationPublisher, scope: readonly string[], exploration: readonly CostCenterExploration[]): Promise<void> {
  for (const costCenter of scope) {
    const plan = exploration.find((entry) => entry.costCenter === costCenter)?.plan;
    if (plan) await plans.publish(costCenter, plan);
    else if (plans.get(costCenter)) await plans.publish(costCenter, undefined);
  }
}

/**
 * Approving one optimizer proposal makes the others of the same run stale (approval needs the base
 * to be the active version), and the next run files them again under new ids: without rejecting them
 * the queue fills with proposals nobody can approve.
 */
async function fileProposals(governance: OptimizerGovernance, policy: { version: number; hash: string }, found: readonly (OptimizerProposal | ExplorationProposal)[], costCenter: string | undefined): Promise<ProposalView[]> {
  const pending: ProposalView[] = [];
  for (const proposal of await governance.service.listProposals('pending')) {
    const inScope = costCenter === undefined || proposal.cost_centers.includes(costCenter);
    if (proposal.source !== 'optimizer' || proposal.base_hash === policy.hash || !inScope) {
      pending.push(proposal);
      continue;
    }
    await governance.service.rejectProposal(proposal.id, { actor: 'optimizer', reason: `superseded: made against version ${proposal.base_version}, version ${policy.version} is active; the optimizer proposes again against it` });
  }
  const proposals: ProposalView[] = [];
  for (const result of found) {
    if (pending.some((proposal) => proposal.source === 'optimizer' && JSON.stringify(proposal.math ?? {}).includes(result.proposalId))) continue;
    proposals.push(
      await governance.service.createProposal({
        document: result.document,
        justification: `optimizer: ${result.summary}`,
        author: 'optimizer',
        source: 'optimizer',
        summary: result.summary,
        math: { proposal_id: result.proposalId, ...result.math },
      }),
    );
  }
  return proposals;
}
