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
import { startOptimizerJobs, type OptimizerJobs } from '../optimizer/optimizer-jobs.ts';
import { optimizerSettingsOf } from '../shared/policy/optimizer-settings.ts';
import type { RunningGovernance } from '../gateway/governance/start-governance.ts';
import { findParent, type PolicyVersionRow } from '../gateway/policy/policy-version-verify.ts';
import { GatewayError } from '../gateway/errors/gateway-error.ts';

export interface OptimizerRun {
  results: OptimizerResult[];
  /** Proposals filed with governance by this run (none in dry-run, none for duplicates). Stale optimizer proposals (made against an older version) are rejected as superseded. */
  proposals: ProposalView[];
}

export interface GuardCheck {
  ruleId: string;
  /** The version that activated the rule (later versions that kept it are watched with it). */
  policyVersion: number;
  result: GuardResult;
  rolledBack: boolean;
}

export interface OptimizerLoop {
  run(input?: { costCenter?: string | undefined; dryRun?: boolean; onProgress?: (progress: OptimizerProgress) => void }): Promise<OptimizerRun>;
  /** One look of the rollback guard at the active version's optimizer rules. */
  guard(): Promise<GuardCheck[]>;
  routes(requireRole: (role: AdminRole) => preHandlerAsyncHookHandler): (app: FastifyInstance) => Promise<void>;
  /** Distributed mode (Redis configured): the BullMQ jobs this replica consumes. */
  jobs?: Promise<OptimizerJobs> | undefined;
  stop(): Promise<void>;
}

/** Embedded mode: the in-process timers of runs and guard looks. */
function startTimers(config: DeploymentConfig, run: () => Promise<unknown>, guard: () => Promise<unknown>, logger: Logger): { stop(): Promise<void> } {
  const schedule = startOptimizerSchedule({
    intervalSeconds: config.optimizer.interval_seconds,
    run: async () => {
      await run();
    },
    onError: (error) => logger.warn({ err: { message: (error as Error).message } }, 'scheduled optimizer run failed'),
  });
  const guardTimer = setInterval(() => {
    guard().catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, 'rollback guard check failed'));
  }, config.optimizer.guard_interval_seconds * 1000);
  guardTimer.unref();
  return {
    async stop() {
      clearInterval(guardTimer);
      await schedule.stop();
    },
  };
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

/** The audit action of the guard's accept decision; its subject is the watch key (`<rule id>@<version>`). */
export const RULE_ACCEPTED_ACTION = 'policy.rule_accepted';

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

/** Optimizer rules (enforced, from a proposal) of `current` that `other` does not have. */
function optimizerRulesMissingFrom(current: PolicyDocument, other: PolicyDocument | undefined): RoutingRule[] {
  const kept = new Set((other?.rules ?? []).map((rule) => JSON.stringify(rule)));
  return current.rules.filter((rule) => !rule.dry_run && rule.proposal_id !== undefined && !kept.has(JSON.stringify(rule)));
}

const documentOf = (row: PolicyVersionRow) => JSON.parse(row.document) as PolicyDocument;

/**
 * Optimizer rules taken out by automatic rollbacks since `since`. An automatic rollback is a
 * system-signed version made by `rollbackToParent` or `revertRule` (proposal id `rollback_…`;
 * approved rollbacks go through proposals); its parent is the version it reverted.
 */
function guardRollbacks(versions: readonly PolicyVersionRow[], since: Date): GuardRollback[] {
  const rows = new Map(versions.map((row) => [row.version, row]));
  const found: GuardRollback[] = [];
  for (const row of versions) {
    if (!row.proposal_id.startsWith('rollback_') || versionTime(row) < since) continue;
    const reverted = findParent(row, rows);
    if (!reverted) continue;
    for (const rule of optimizerRulesMissingFrom(documentOf(reverted), documentOf(row))) found.push({ rule, fromVersion: reverted.version, at: versionTime(row) });
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

/** An optimizer rule in force and the version that brought it in. */
interface WatchedRule {
  rule: RoutingRule;
  /** The oldest version of the unbroken run of versions, ending at the active one, that has the rule. */
  since: PolicyVersionRow;
}

/**
 * Every optimizer rule of the active version with the version that activated it, followed back
 * through the versions approved on top of it: a budget change approved the day after must not
 * end the watch over a rule whose regression is still being measured.
 */
function watchedRules(active: PolicyVersionRow, rows: Map<number, PolicyVersionRow>): WatchedRule[] {
  return optimizerRulesMissingFrom(documentOf(active), undefined).map((rule) => {
    const text = JSON.stringify(rule);
    let since = active;
    for (let parent = findParent(since, rows); parent && documentOf(parent).rules.some((other) => JSON.stringify(other) === text); parent = findParent(since, rows)) since = parent;
    return { rule, since };
  });
}

/**
 * The closed loop around the optimizer: scheduled runs that file proposals with governance (never
 * activate them: an approver must sign), and a rollback guard that watches what an approved
 * optimizer rule did to eval scores and, when quality regressed, reverts to the parent version (or,
 * when other changes were approved since, takes just the rule out).
 */
export function startOptimizerLoop(options: OptimizerLoopOptions): OptimizerLoop {
  const { governance, logger } = options;
  const rolledBack = new Set<number>();
  const accepted = new Set<string>();
  // The sequential test stops at its first boundary: a rule accepted before a restart must stay
  // accepted, not be judged again on the grown sample (which can cross the other boundary). The
  // decisions live on the audit log and are read back once, before the first look.
  let acceptedLoaded: Promise<void> | undefined;
  const loadAccepted = () =>
    (acceptedLoaded ??= options.clickhouse
      .query({ query: `SELECT DISTINCT subject FROM ${options.database}.audit_log WHERE action = {action:String}`, query_params: { action: RULE_ACCEPTED_ACTION }, format: 'JSONEachRow' })
      .then((result) => result.json<{ subject: string }>())
      .then((rows) => rows.forEach((row) => accepted.add(row.subject)))
      .catch((error: unknown) => {
        acceptedLoaded = undefined; // storage down: the next look reads them again
        throw error;
      }));

  // The last whole-policy run's results, for GET /admin/optimizer/status (the console's warm-up view).
  let lastResults: { at: string; results: OptimizerResult[] } | undefined;
  const run: OptimizerLoop['run'] = async (input = {}) => {
    const policy = governance.store.current();
    const found = await runOptimizer({ clickhouse: options.clickhouse, database: options.database, policy: policy.document, costCenter: input.costCenter, seed: options.config.optimizer.seed, onProgress: input.onProgress });
    const rollbacks = guardRollbacks(await governance.store.versions(), new Date(Date.now() - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    const results = found.map((result) => coolDown(result, rollbacks));
    if (input.costCenter === undefined) lastResults = { at: new Date().toISOString(), results };
    const proposals: ProposalView[] = [];
    if (input.dryRun) return { results, proposals };
    // Approving one optimizer proposal makes the others of the same run stale (approval needs the base
    // to be the active version), and the next run files them again under new ids: without this the
    // queue fills with proposals nobody can approve.
    const pending: ProposalView[] = [];
    for (const proposal of await governance.service.listProposals('pending')) {
      const inScope = input.costCenter === undefined || proposal.cost_centers.includes(input.costCenter);
      if (proposal.source !== 'optimizer' || proposal.base_hash === policy.hash || !inScope) {
        pending.push(proposal);
        continue;
      }
      await governance.service.rejectProposal(proposal.id, { actor: 'optimizer', reason: `superseded: made against version ${proposal.base_version}, version ${policy.version} is active; the optimizer proposes again against it` });
    }
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
    await loadAccepted();
    const active = governance.store.current();
    if (rolledBack.has(active.version)) return [];
    const rows = new Map((await governance.store.versions()).map((row) => [row.version, row]));
    const activeRow = rows.get(active.version);
    if (!activeRow) return [];
    const checks: GuardCheck[] = [];
    for (const { rule, since } of watchedRules(activeRow, rows)) {
      const watchKey = `${rule.id}@${since.version}`;
      if (accepted.has(watchKey)) continue;
      for (const costCenter of rule.cost_centers) {
        const center = active.document.cost_centers[costCenter];
        if (!center) continue;
        const result = await checkActivation({
          clickhouse: options.clickhouse,
          database: options.database,
          activation: {
            costCenter,
            rule,
            policyVersion: since.version,
            activatedAt: versionTime(since),
            qualityRegressionLimit: center.quality_regression_limit,
            timezone: center.timezone,
            // The share in force when the rule went live decides whether a concurrent control exists.
            holdoutShare: optimizerSettingsOf(documentOf(since), costCenter).holdoutShare,
            qualityWeights: optimizerSettingsOf(active.document, costCenter).qualityWeights,
          },
        });
        // The sequential test stops at a boundary: an accepted rule is not judged again, after restarts too.
        if (result.decision === 'accept') {
          accepted.add(watchKey);
          governance.audit.record({ actor: 'rollback-guard', action: RULE_ACCEPTED_ACTION, subject: watchKey, cost_center: costCenter, policy_version: since.version, details: { rule_id: rule.id, version: since.version, ...result.numbers } });
        }
        if (result.decision !== 'rollback' || rolledBack.has(active.version)) {
          checks.push({ ruleId: rule.id, policyVersion: since.version, result, rolledBack: false });
          continue;
        }
        rolledBack.add(active.version);
        const reason = `rollback guard: rule ${rule.id} regressed quality for ${costCenter} beyond the ${(center.quality_regression_limit * 100).toFixed(1)}% limit`;
        const numbers = result.numbers as unknown as Record<string, unknown>;
        // The version that added the rule is still the active one: restore its parent exactly. Otherwise
        // later approved changes stay and only the rule goes.
        let rollback;
        try {
          rollback = since.version === active.version ? await governance.service.rollbackToParent({ reason, numbers }) : await governance.service.revertRule({ ruleId: rule.id, reason, numbers });
        } catch (error) {
          rolledBack.delete(active.version); // e.g. storage down: the next look tries again
          throw error;
        }
        options.alert?.({ event: 'policy.rolled_back', cost_center: costCenter, ts: new Date().toISOString(), rule_id: rule.id, from_version: rollback.from_version, version: rollback.version, rule_version: since.version, ...result.numbers });
        logger.warn({ rule: rule.id, costCenter, numbers: result.numbers, version: rollback.version }, 'policy rolled back automatically');
        checks.push({ ruleId: rule.id, policyVersion: since.version, result, rolledBack: true });
        return checks; // the active version changed: the next look starts from it
      }
    }
    return checks;
  };

  const timers = options.config.redis.url ? undefined : startTimers(options.config, run, guard, logger);
  // Distributed mode: repeatable BullMQ jobs, one run at a time across replicas (optimizer/optimizer-jobs.ts).
  const jobs = options.config.redis.url
    ? startOptimizerJobs({
        redisUrl: options.config.redis.url,
        prefix: `${options.config.redis.key_prefix}bull`,
        intervalSeconds: options.config.optimizer.interval_seconds,
        guardIntervalSeconds: options.config.optimizer.guard_interval_seconds,
        seed: options.config.optimizer.seed,
        costCenters: () => Object.keys(governance.store.current().document.cost_centers).sort(),
        run: async (costCenter) => {
          await run({ costCenter });
        },
        guard: async () => {
          await guard();
        },
        onError: (error) => logger.warn({ err: { message: (error as Error).message } }, 'optimizer job failed'),
      })
    : undefined;
  jobs?.catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, 'optimizer job queue did not start'));

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
      // Where each cost center stands (warming up and what it lacks, no improvement and why, or a proposal):
      // the last run's results, or a dry run now when there was none since start.
      // One dry run at a time, shared by every caller and kept for a minute: an analyst polling the
      // status must not start optimizer runs (they query the main ClickHouse connection, outside analyst limits).
      let statusRun: { started: number; result: Promise<{ at: string; results: OptimizerResult[] }> } | undefined;
      const statusDryRun = () => {
        if (statusRun === undefined || Date.now() - statusRun.started > 60_000) {
          const result = run({ dryRun: true }).then((outcome) => ({ at: new Date().toISOString(), results: outcome.results }));
          statusRun = { started: Date.now(), result };
          result.catch(() => (statusRun = undefined));
        }
        return statusRun.result;
      };
      app.get('/admin/optimizer/status', { preHandler: requireRole('analyst') }, async () => {
        const latest = lastResults ?? (await statusDryRun());
        return { at: latest.at, results: latest.results.map((result) => (result.status === 'proposal' ? { ...result, document: undefined } : result)) };
      });
      app.post('/admin/optimizer/guard', { preHandler: requireRole('admin') }, async () => ({ checks: await guard() }));
    },
    jobs,
    async stop() {
      await timers?.stop();
      await (await jobs?.catch(() => undefined))?.stop();
    },
  };
}
