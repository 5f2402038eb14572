import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AdminRole, DeploymentConfig } from '../shared/config/config-schema.ts';
import type { PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import type { ProposalView } from '../shared/governance/proposal-types.ts';
import { runOptimizer } from '../optimizer/run-optimizer.ts';
import type { OptimizerProgress } from '../optimizer/optimize-segments.ts';
import type { OptimizerResult } from '../optimizer/proposal.ts';
import { checkActivation, type GuardResult } from '../optimizer/rollback-guard.ts';
import { startOptimizerSchedule } from '../optimizer/schedule.ts';
import type { RunningGovernance } from '../gateway/governance/start-governance.ts';
import type { PolicyVersionRow } from '../gateway/policy/policy-version-verify.ts';
import { GatewayError } from '../gateway/errors/gateway-error.ts';

export interface OptimizerRun {
  results: OptimizerResult[];
  /** Proposals filed with governance by this run (none in dry-run, none for duplicates). */
  proposals: ProposalView[];
}

export interface GuardCheck {
  ruleId: string;
  policyVersion: number;
  result: GuardResult;
  rolledBack: boolean;
}

export interface OptimizerLoop {
  run(input?: { costCenter?: string | undefined; dryRun?: boolean; onProgress?: (progress: OptimizerProgress) => void }): Promise<OptimizerRun>;
  /** One look of the rollback guard at the active version's optimizer rules. */
  guard(): Promise<GuardCheck[]>;
  routes(requireRole: (role: AdminRole) => preHandlerAsyncHookHandler): (app: FastifyInstance) => Promise<void>;
  stop(): Promise<void>;
}

export interface OptimizerLoopOptions {
  config: DeploymentConfig;
  clickhouse: ClickHouseClient;
  database: string;
  governance: RunningGovernance;
  logger: Logger;
  /** Alert hook for automatic rollbacks. */
  alert?: (event: Record<string, unknown>) => void;
}

const RunBody = z.object({ cost_center: z.string().optional(), dry_run: z.boolean().optional() }).strict();

/** After the guard rolled back an optimizer rule, the same change is not proposed again for this long (the guard's baseline window). */
export const ROLLBACK_COOLDOWN_DAYS = 14;

/** An optimizer rule an automatic rollback took out. */
interface GuardRollback {
  rule: RoutingRule;
  /** The version that was rolled back. */
  fromVersion: number;
  at: Date;
}

function versionTime(row: PolicyVersionRow): Date {
  return new Date(`${row.created_at.replace(' ', 'T')}Z`);
}

/**
 * Optimizer rules taken out by automatic rollbacks since `since`. An automatic rollback is a
 * system-signed version made by `rollbackToParent` (proposal id `rollback_…`; approved rollbacks
 * go through proposals); its parent is the version it reverted.
 */
function guardRollbacks(versions: readonly PolicyVersionRow[], since: Date): GuardRollback[] {
  const byHash = new Map(versions.map((row) => [row.hash, row]));
  const found: GuardRollback[] = [];
  for (const row of versions) {
    if (!row.proposal_id.startsWith('rollback_') || versionTime(row) < since) continue;
    const reverted = byHash.get(row.parent_hash);
    if (!reverted) continue;
    const before = byHash.get(reverted.parent_hash);
    const rules = addedRules(JSON.parse(reverted.document) as PolicyDocument, before ? (JSON.parse(before.document) as PolicyDocument) : undefined);
    for (const rule of rules) found.push({ rule, fromVersion: reverted.version, at: versionTime(row) });
  }
  return found;
}

const pairKey = (rule: RoutingRule) => JSON.stringify([[...rule.cost_centers].sort(), [...(rule.when.requested_models ?? [])].sort(), rule.route_to]);

/**
 * The search only sees eval scores, and a rolled-back rule's bad turns are few next to weeks of
 * history: left alone it proposes the same change again (same data, same policy → even the same
 * proposal id) and the loop oscillates. A proposal for a (cost center, requested → target) change
 * the guard rolled back within the cool-down becomes `no_improvement` with the reason.
 */
function coolDown(result: OptimizerResult, rollbacks: readonly GuardRollback[]): OptimizerResult {
  if (result.status !== 'proposal') return result;
  const rollback = rollbacks.find((entry) => pairKey(entry.rule) === pairKey(result.rule));
  if (!rollback) return result;
  const until = new Date(rollback.at.getTime() + ROLLBACK_COOLDOWN_DAYS * 86_400_000);
  return {
    status: 'no_improvement',
    costCenter: result.costCenter,
    reason: 'rolled_back_recently',
    summary:
      `for ${result.costCenter}, ${result.math.requestedModel} → ${result.math.targetModel} was rolled back by the rollback guard at ${rollback.at.toISOString()} ` +
      `(rule ${rollback.rule.id} of version ${rollback.fromVersion}); not proposed again before ${until.toISOString()}`,
  };
}

/** Rules the active version added over its parent: the change the guard must watch. */
function addedRules(current: PolicyDocument, parent: PolicyDocument | undefined): RoutingRule[] {
  const before = new Set((parent?.rules ?? []).map((rule) => JSON.stringify(rule)));
  return current.rules.filter((rule) => !rule.dry_run && rule.proposal_id !== undefined && !before.has(JSON.stringify(rule)));
}

/**
 * The closed loop around the optimizer: scheduled runs that file proposals with governance (never
 * activate them: an approver must sign), and a rollback guard that watches what an approved
 * optimizer rule did to eval scores and reverts to the parent version when quality regressed.
 */
export function startOptimizerLoop(options: OptimizerLoopOptions): OptimizerLoop {
  const { governance, logger } = options;
  const rolledBack = new Set<number>();

  const run: OptimizerLoop['run'] = async (input = {}) => {
    const policy = governance.store.current();
    const found = await runOptimizer({ clickhouse: options.clickhouse, database: options.database, policy: policy.document, costCenter: input.costCenter, seed: options.config.optimizer.seed, onProgress: input.onProgress });
    const rollbacks = guardRollbacks(await governance.store.versions(), new Date(Date.now() - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    const results = found.map((result) => coolDown(result, rollbacks));
    const proposals: ProposalView[] = [];
    if (input.dryRun) return { results, proposals };
    const pending = await governance.service.listProposals('pending');
    for (const result of results) {
      if (result.status !== 'proposal') continue;
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
    return { results, proposals };
  };

  const guard: OptimizerLoop['guard'] = async () => {
    const active = governance.store.current();
    if (rolledBack.has(active.version)) return [];
    const versions = await governance.store.versions();
    const currentRow = versions.find((row) => row.version === active.version);
    const parentRow = versions.find((row) => row.hash === currentRow?.parent_hash);
    const parent = parentRow ? (JSON.parse(parentRow.document) as PolicyDocument) : undefined;
    const checks: GuardCheck[] = [];
    for (const rule of addedRules(active.document, parent)) {
      for (const costCenter of rule.cost_centers) {
        const center = active.document.cost_centers[costCenter];
        if (!center || !currentRow) continue;
        const result = await checkActivation({
          clickhouse: options.clickhouse,
          database: options.database,
          activation: { costCenter, rule, policyVersion: active.version, activatedAt: new Date(`${currentRow.created_at.replace(' ', 'T')}Z`), qualityRegressionLimit: center.quality_regression_limit, timezone: center.timezone },
        });
        let reverted = false;
        if (result.decision === 'rollback' && !rolledBack.has(active.version)) {
          rolledBack.add(active.version);
          const reason = `rollback guard: rule ${rule.id} regressed quality for ${costCenter} beyond the ${(center.quality_regression_limit * 100).toFixed(1)}% limit`;
          const rollback = await governance.service.rollbackToParent({ reason, numbers: result.numbers as unknown as Record<string, unknown> });
          options.alert?.({ event: 'policy.rolled_back', cost_center: costCenter, ts: new Date().toISOString(), rule_id: rule.id, from_version: rollback.from_version, version: rollback.version, ...result.numbers });
          logger.warn({ rule: rule.id, costCenter, numbers: result.numbers, version: rollback.version }, 'policy rolled back automatically');
          reverted = true;
        }
        checks.push({ ruleId: rule.id, policyVersion: active.version, result, rolledBack: reverted });
      }
    }
    return checks;
  };

  const schedule = startOptimizerSchedule({
    intervalSeconds: options.config.optimizer.interval_seconds,
    run: async () => {
      await run();
    },
    onError: (error) => logger.warn({ err: { message: (error as Error).message } }, 'scheduled optimizer run failed'),
  });
  const guardTimer = setInterval(() => {
    guard().catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, 'rollback guard check failed'));
  }, options.config.optimizer.guard_interval_seconds * 1000);
  guardTimer.unref();

  return {
    run,
    guard,
    routes: (requireRole) => async (app) => {
      app.post('/admin/optimizer/run', { preHandler: requireRole('admin') }, async (request, reply) => {
        const parsed = RunBody.safeParse(request.body ?? {});
        if (!parsed.success) throw new GatewayError('invalid_request', { message: `gatehouse: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` });
        const answer = (outcome: OptimizerRun) => ({ proposals: outcome.proposals, results: outcome.results.map((result) => (result.status === 'proposal' ? { ...result, document: undefined } : result)) });
        // `accept: application/x-ndjson` streams progress lines first (the CLI draws its progress bar from them).
        if (!String(request.headers.accept ?? '').includes('application/x-ndjson')) return answer(await run({ costCenter: parsed.data.cost_center, dryRun: parsed.data.dry_run }));
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
        try {
          const outcome = await run({
            costCenter: parsed.data.cost_center,
            dryRun: parsed.data.dry_run,
            onProgress: (progress) => reply.raw.write(`${JSON.stringify({ progress })}\n`),
          });
          reply.raw.end(`${JSON.stringify({ result: answer(outcome) })}\n`);
        } catch (error) {
          reply.raw.end(`${JSON.stringify({ error: { message: (error as Error).message } })}\n`);
        }
        return reply;
      });
      app.post('/admin/optimizer/guard', { preHandler: requireRole('admin') }, async () => ({ checks: await guard() }));
    },
    async stop() {
      clearInterval(guardTimer);
      await schedule.stop();
    },
  };
}
