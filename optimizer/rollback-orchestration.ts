import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import { findParent, type PolicyVersionRow } from '../shared/governance/policy-version-row.ts';
import { optimizerSettingsOf } from '../shared/policy/optimizer-settings.ts';
import type { OptimizerResult } from './proposal.ts';
import { checkActivation, type GuardResult } from './rollback-guard.ts';
import type { OptimizerGovernance } from './optimizer-governance.ts';

/**
 * The rollback guard's orchestration around the sequential test (rollback-guard.ts): which optimizer
 * rules of the active version are watched and since which version, accept decisions kept across
 * restarts (on the audit log), the automatic rollback itself, and the cool-down that keeps the
 * optimizer from proposing a rolled-back change again.
 */

/** The audit action of the guard's accept decision; its subject is the watch key (`<rule id>@<version>`). */
export const RULE_ACCEPTED_ACTION = 'policy.rule_accepted';

/** After the guard rolled back an optimizer rule, the same change is not proposed again for this long (the guard's baseline window). */
export const ROLLBACK_COOLDOWN_DAYS = 14;

export interface GuardCheck {
  ruleId: string;
  /** The version that activated the rule (later versions that kept it are watched with it). */
  policyVersion: number;
  result: GuardResult;
  rolledBack: boolean;
}

/** An optimizer rule an automatic rollback took out. */
export interface GuardRollback {
  rule: RoutingRule;
  /** The version that was rolled back. */
  fromVersion: number;
  at: Date;
}

export function versionTime(row: PolicyVersionRow): Date {
  return new Date(`${row.created_at.replace(' ', 'T')}Z`);
}

const documentOf = (row: PolicyVersionRow) => JSON.parse(row.document) as PolicyDocument;

/** Optimizer rules (enforced, from a proposal) of `current` that `other` does not have. */
function optimizerRulesMissingFrom(current: PolicyDocument, other: PolicyDocument | undefined): RoutingRule[] {
  const kept = new Set((other?.rules ?? []).map((rule) => JSON.stringify(rule)));
  return current.rules.filter((rule) => !rule.dry_run && rule.proposal_id !== undefined && !kept.has(JSON.stringify(rule)));
}

/**
 * Optimizer rules taken out by automatic rollbacks since `since`. An automatic rollback is a
 * system-signed version made by `rollbackToParent` or `revertRule` (proposal id `rollback_…`;
 * approved rollbacks go through proposals); its parent is the version it reverted.
 */
export function guardRollbacks(versions: readonly PolicyVersionRow[], since: Date): GuardRollback[] {
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

const pairKey = (rule: RoutingRule) => JSON.stringify([[...rule.cost_centers].sort(), [...(rule.when.requested_models ?? [])].sort(), rule.route_to, rule.reasoning_effort ?? '']);

/** The automatic rollback within the cool-down that took out the same change as `rule`, if any. */
export function rolledBackRecently(rule: RoutingRule, rollbacks: readonly GuardRollback[]): GuardRollback | undefined {
  return rollbacks.find((entry) => pairKey(entry.rule) === pairKey(rule));
}

/**
 * The search only sees eval scores, and a rolled-back rule's bad turns are few next to weeks of
 * history: left alone it proposes the same change again (same data, same policy → even the same
 * proposal id) and the loop oscillates. A proposal for a (cost center, requested → target) change
 * the guard rolled back within the cool-down becomes `no_improvement` with the reason.
 */
export function coolDown(result: OptimizerResult, rollbacks: readonly GuardRollback[]): OptimizerResult {
  if (result.status !== 'proposal') return result;
  const rollback = rolledBackRecently(result.rule, rollbacks);
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

export interface RollbackGuardOptions {
  clickhouse: ClickHouseClient;
  database: string;
  governance: OptimizerGovernance;
  logger: Logger;
  /** Alert hook for automatic rollbacks. */
  alert?: ((event: Record<string, unknown>) => void) | undefined;
}

/** Guard state that outlives one look: versions already rolled back, and watches already accepted. */
interface GuardMemory {
  rolledBack: Set<number>;
  accepted: Set<string>;
  loadAccepted: () => Promise<void>;
}

/**
 * The sequential test stops at its first boundary: a rule accepted before a restart must stay
 * accepted, not be judged again on the grown sample (which can cross the other boundary). The
 * decisions live on the audit log and are read back once, before the first look.
 */
function guardMemory(options: RollbackGuardOptions): GuardMemory {
  const accepted = new Set<string>();
  let loaded: Promise<void> | undefined;
  const loadAccepted = () =>
    (loaded ??= options.clickhouse
      .query({ query: `SELECT DISTINCT subject FROM ${options.database}.audit_log WHERE action = {action:String}`, query_params: { action: RULE_ACCEPTED_ACTION }, format: 'JSONEachRow' })
      .then((result) => result.json<{ subject: string }>())
      .then((rows) => rows.forEach((row) => accepted.add(row.subject)))
      .catch((error: unknown) => {
        loaded = undefined; // storage down: the next look reads them again
        throw error;
      }));
  return { rolledBack: new Set<number>(), accepted, loadAccepted };
}

/**
 * The rollback guard: one look at the active version's optimizer rules per call. When a rule regressed
 * quality, it reverts to the parent version (or, when other changes were approved since, takes just the
 * rule out) and alerts.
 */
export function createRollbackGuard(options: RollbackGuardOptions): () => Promise<GuardCheck[]> {
  const memory = guardMemory(options);
  return async () => {
    await memory.loadAccepted();
    const active = options.governance.store.current();
    if (memory.rolledBack.has(active.version)) return [];
    const rows = new Map((await options.governance.store.versions()).map((row) => [row.version, row]));
    const activeRow = rows.get(active.version);
    if (!activeRow) return [];
    const checks: GuardCheck[] = [];
    for (const watched of watchedRules(activeRow, rows)) {
      if (memory.accepted.has(watchKey(watched))) continue;
      for (const costCenter of watched.rule.cost_centers) {
        const check = await lookAt(options, memory, active, watched, costCenter);
        if (!check) continue;
        checks.push(check);
        if (check.rolledBack) return checks; // the active version changed: the next look starts from it
      }
    }
    return checks;
  };
}

const watchKey = (watched: WatchedRule) => `${watched.rule.id}@${watched.since.version}`;

/** The guard's test of one watched rule on one of its cost centers, and what follows from its decision. */
async function lookAt(options: RollbackGuardOptions, memory: GuardMemory, active: { version: number; document: PolicyDocument }, watched: WatchedRule, costCenter: string): Promise<GuardCheck | undefined> {
  const { rule, since } = watched;
  const center = active.document.cost_centers[costCenter];
  if (!center) return undefined;
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
    memory.accepted.add(watchKey(watched));
    options.governance.audit.record({ actor: 'rollback-guard', action: RULE_ACCEPTED_ACTION, subject: watchKey(watched), cost_center: costCenter, policy_version: since.version, details: { rule_id: rule.id, version: since.version, ...result.numbers } });
  }
  if (result.decision !== 'rollback' || memory.rolledBack.has(active.version)) return { ruleId: rule.id, policyVersion: since.version, result, rolledBack: false };
  await rollBack(options, memory, active.version, watched, costCenter, center.quality_regression_limit, result);
  return { ruleId: rule.id, policyVersion: since.version, result, rolledBack: true };
}

/**
 * The version that added the rule is still the active one: restore its parent exactly. Otherwise later
 * approved changes stay and only the rule goes.
 */
async function rollBack(options: RollbackGuardOptions, memory: GuardMemory, activeVersion: number, watched: WatchedRule, costCenter: string, limit: number, result: GuardResult): Promise<void> {
  const { rule, since } = watched;
  memory.rolledBack.add(activeVersion);
  const reason = `rollback guard: rule ${rule.id} regressed quality for ${costCenter} beyond the ${(limit * 100).toFixed(1)}% limit`;
  const numbers = result.numbers as unknown as Record<string, unknown>;
  let rollback;
  try {
    const service = options.governance.service;
    rollback = since.version === activeVersion ? await service.rollbackToParent({ reason, numbers }) : await service.revertRule({ ruleId: rule.id, reason, numbers });
  } catch (error) {
    memory.rolledBack.delete(activeVersion); // e.g. storage down: the next look tries again
    throw error;
  }
  options.alert?.({ event: 'policy.rolled_back', cost_center: costCenter, ts: new Date().toISOString(), rule_id: rule.id, from_version: rollback.from_version, version: rollback.version, rule_version: since.version, ...result.numbers });
  options.logger.warn({ rule: rule.id, costCenter, numbers: result.numbers, version: rollback.version }, 'policy rolled back automatically');
}
