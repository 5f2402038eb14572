import type { ClickHouseClient } from '@clickhouse/client';
import type { RoutingRule } from '../shared/policy/policy-schema.ts';
import { normalCdf } from './gaussian-process.ts';
import { rollbackGuardQuery } from './optimizer-queries.ts';
import type { QualityWeights } from '../shared/policy/optimizer-settings.ts';

/** Sufficient statistics of per-turn quality (0–1) in one arm. */
export interface ArmStatistics {
  n: number;
  mean: number;
  /**
   * Per-turn variance the test divides by n. From ClickHouse it is cluster-robust: n × the sandwich
   * variance of the mean over sessions, so correlated turns of one session do not count as independent.
   */
  variance: number;
  /** Sessions the turns come from (clusters). */
  sessions?: number;
  /** The plain per-turn sample variance, for comparison (variance / naiveVariance = design effect). */
  naiveVariance?: number;
}

/** Per-session sums of one arm, as `rollbackGuardQuery` returns them. */
export interface ArmSessionSums {
  n: number;
  sessions: number;
  total: number;
  squares: number;
  /** Σ over sessions of (session total)². */
  totalSquared: number;
  /** Σ over sessions of total × turns. */
  totalByTurns: number;
  /** Σ over sessions of turns². */
  turnsSquared: number;
}

/**
 * Cluster-robust (sandwich) statistics of a ratio mean over sessions: Var(mean) =
 * C/(C−1) · Σ_c (T_c − mean·n_c)² / N², with T_c the session's quality total and n_c its turns.
 */
export function armStatisticsFromSessions(sums: ArmSessionSums): ArmStatistics {
  if (sums.n === 0) return { n: 0, mean: 0, variance: 0, sessions: 0, naiveVariance: 0 };
  const mean = sums.total / sums.n;
  const residualSquares = Math.max(0, sums.totalSquared - 2 * mean * sums.totalByTurns + mean * mean * sums.turnsSquared);
  const correction = sums.sessions > 1 ? sums.sessions / (sums.sessions - 1) : 1;
  const varianceOfMean = (correction * residualSquares) / (sums.n * sums.n);
  const naiveVariance = sums.n > 1 ? Math.max(0, (sums.squares - sums.n * mean * mean) / (sums.n - 1)) : 0;
  return { n: sums.n, mean, variance: varianceOfMean * sums.n, sessions: sums.sessions, naiveVariance };
}

/**
 * Settings of the sequential test. The guard runs Wald's SPRT on the quality gap
 * δ = baseline − treatment, with H0: δ = 0 (no regression) against H1: δ = `detectableRegression`,
 * on the normal approximation of the difference of means (information = 1/se², so it can be
 * re-checked as often as wanted). With the default δ1 = 2 × limit the decision midpoint sits on
 * the limit itself.
 */
export interface SequentialTestOptions {
  /** The cost center's `quality_regression_limit`. */
  limit: number;
  /** Probability of rolling back a rule that does not regress. @defaultValue 0.05 */
  alpha?: number;
  /** Probability of keeping a rule that regresses by `detectableRegression`. @defaultValue 0.2 */
  beta?: number;
  /** @defaultValue max(2 × limit, 0.01) */
  detectableRegression?: number;
  /** Scored turns each arm needs before any decision. @defaultValue 200 */
  minSamples?: number;
  /** Treatment turns after which the test stops: rollback when the gap is past the midpoint, else accept. @defaultValue 5000 */
  maxSamples?: number;
}

export type GuardDecision = 'continue' | 'rollback' | 'accept';

/** Everything behind a decision, for the audit event and the alert. */
export interface GuardNumbers {
  /** The control the decision used: the holdout (concurrent) or the pre-activation baseline (historical). */
  comparison: 'concurrent' | 'historical';
  /** The control arm of the decision (holdout or historical baseline, see `comparison`). */
  control: ArmStatistics;
  /** Turns before activation the rule would have matched (the historical comparison). */
  baseline: ArmStatistics;
  /** Sessions of the rule kept on the old route since activation (the concurrent control). */
  holdout: ArmStatistics;
  treatment: ArmStatistics;
  /** Both comparisons, whichever decided: mean gap control − treatment and its standard error. */
  concurrentRegression: { mean: number; standardError: number } | null;
  historicalRegression: { mean: number; standardError: number } | null;
  observedRegression: number;
  standardError: number;
  logLikelihoodRatio: number;
  /** ln((1 − β)/α): at or above → rollback. */
  rollbackBoundary: number;
  /** ln(β/(1 − α)): at or below → accept. */
  acceptBoundary: number;
  /** Normal posterior (flat prior) probability that the regression exceeds the limit. */
  probabilityAboveLimit: number;
  limit: number;
  detectableRegression: number;
  alpha: number;
  beta: number;
  minSamples: number;
  maxSamples: number;
  reason: 'warming_up' | 'regression_detected' | 'no_regression' | 'undecided' | 'budget_exhausted';
}

export interface GuardResult {
  decision: GuardDecision;
  numbers: GuardNumbers;
}

/** The part of the numbers the sequential test itself produces. */
export type SequentialNumbers = Omit<GuardNumbers, 'comparison' | 'control' | 'holdout' | 'concurrentRegression' | 'historicalRegression'>;

/** One look of the sequential test; pure, so it can be replayed over simulated streams. */
export function sequentialRegressionTest(baseline: ArmStatistics, treatment: ArmStatistics, options: SequentialTestOptions): { decision: GuardDecision; numbers: SequentialNumbers } {
  const alpha = options.alpha ?? 0.05;
  const beta = options.beta ?? 0.2;
  const detectableRegression = options.detectableRegression ?? Math.max(2 * options.limit, 0.01);
  const minSamples = options.minSamples ?? 200;
  const maxSamples = options.maxSamples ?? 5000;
  const rollbackBoundary = Math.log((1 - beta) / alpha);
  const acceptBoundary = Math.log(beta / (1 - alpha));
  const observedRegression = baseline.n > 0 && treatment.n > 0 ? baseline.mean - treatment.mean : 0;
  // Floor the variance: a handful of identical scores must not make the test certain.
  const variance = (arm: ArmStatistics) => Math.max(arm.variance, 1e-4) / Math.max(arm.n, 1);
  const standardError = Math.sqrt(variance(baseline) + variance(treatment));
  const logLikelihoodRatio = (detectableRegression * observedRegression - (detectableRegression * detectableRegression) / 2) / (standardError * standardError);
  const probabilityAboveLimit = 1 - normalCdf((options.limit - observedRegression) / standardError);
  const numbers: Omit<SequentialNumbers, 'reason'> = {
    baseline,
    treatment,
    observedRegression,
    standardError,
    logLikelihoodRatio,
    rollbackBoundary,
    acceptBoundary,
    probabilityAboveLimit,
    limit: options.limit,
    detectableRegression,
    alpha,
    beta,
    minSamples,
    maxSamples,
  };
  if (baseline.n < minSamples || treatment.n < minSamples) return { decision: 'continue', numbers: { ...numbers, reason: 'warming_up' } };
  if (logLikelihoodRatio >= rollbackBoundary) return { decision: 'rollback', numbers: { ...numbers, reason: 'regression_detected' } };
  if (logLikelihoodRatio <= acceptBoundary) return { decision: 'accept', numbers: { ...numbers, reason: 'no_regression' } };
  if (treatment.n >= maxSamples) return { decision: logLikelihoodRatio > 0 ? 'rollback' : 'accept', numbers: { ...numbers, reason: 'budget_exhausted' } };
  return { decision: 'continue', numbers: { ...numbers, reason: 'undecided' } };
}

/** An activation the guard watches: the rule it added and where it applies. */
export interface ActivationUnderWatch {
  costCenter: string;
  /** The activated rule (its `when` defines the baseline traffic). */
  rule: RoutingRule;
  /** Policy version the activation created. */
  policyVersion: number;
  activatedAt: Date;
  /** The cost center's `quality_regression_limit`. */
  qualityRegressionLimit: number;
  /** IANA zone of the rule's hours (the cost center's `timezone`). @defaultValue UTC */
  timezone?: string;
  /** Days before activation that form the baseline. @defaultValue 14 */
  baselineDays?: number;
  /**
   * The cost center's `optimizer.holdout_share` when the rule was activated. Above 0 the test compares
   * the concurrent arms (holdout vs treatment), so a change in the work itself moves both; 0 compares
   * with the historical baseline. @defaultValue 0
   */
  holdoutShare?: number;
  /**
   * The policy's `optimizer.quality_weights` (normalised). Session outcomes of the sessions in each arm
   * (a session counts in every arm it has scored turns in) join turn validity in each arm's quality.
   * @defaultValue turn validity only
   */
  qualityWeights?: QualityWeights;
}

const ISO_WEEKDAY: Record<string, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

export interface CheckActivationInput {
  clickhouse: ClickHouseClient;
  database: string;
  activation: ActivationUnderWatch;
  /** Called once when the decision is `rollback`; the caller reverts (signed by the system key) and audits. */
  onRollback?: ((numbers: GuardNumbers) => void | Promise<void>) | undefined;
  options?: Omit<SequentialTestOptions, 'limit'>;
}

/** Reads both arms from ClickHouse and runs one look of the sequential test. */
export async function checkActivation(input: CheckActivationInput): Promise<GuardResult> {
  const { activation } = input;
  const when = activation.rule.when;
  const baselineDays = activation.baselineDays ?? 14;
  const prepared = rollbackGuardQuery({
    database: input.database,
    costCenter: activation.costCenter,
    ruleId: activation.rule.id,
    policyVersion: activation.policyVersion,
    activatedAt: activation.activatedAt,
    baselineSince: new Date(activation.activatedAt.getTime() - baselineDays * 86_400_000),
    timezone: activation.timezone ?? 'UTC',
    requestedModels: when.requested_models ?? [],
    minInputTokens: when.input_tokens?.min ?? 0,
    maxInputTokens: when.input_tokens?.max ?? Number.MAX_SAFE_INTEGER,
    hours: when.hours,
    isoWeekdays: (when.days ?? []).map((day) => ISO_WEEKDAY[day] as number),
  });
  const rows = await (await input.clickhouse.query({ ...prepared, format: 'JSONEachRow' })).json<Record<string, number | string>>();
  const weights = activation.qualityWeights ?? { toolUseAccuracy: 1, taskCompletion: 0, codeCorrectness: 0 };
  // A session component counts only when every compared arm has it (else the arms' means mix definitions).
  const present = (field: 'completion' | 'correctness') => ['treatment', (activation.holdoutShare ?? 0) > 0 ? 'holdout' : 'baseline'].every((name) => Number(rows.find((entry) => entry.arm === name)?.[`${field}_n`] ?? 0) > 1);
  const withOutcomes = { completion: weights.taskCompletion > 0 && present('completion'), correctness: weights.codeCorrectness > 0 && present('correctness') };
  const arm = (name: string): ArmStatistics => {
    const row = rows.find((entry) => entry.arm === name);
    if (!row) return { n: 0, mean: 0, variance: 0, sessions: 0, naiveVariance: 0 };
    return withSessionOutcomes(row, weights, withOutcomes, armStatisticsFromSessions({
      n: Number(row.n),
      sessions: Number(row.sessions),
      total: Number(row.total),
      squares: Number(row.squares),
      totalSquared: Number(row.total_squared),
      totalByTurns: Number(row.total_by_turns),
      turnsSquared: Number(row.turns_squared),
    }));
  };
  const result = judgeArms({ baseline: arm('baseline'), holdout: arm('holdout'), treatment: arm('treatment') }, (activation.holdoutShare ?? 0) > 0, { ...input.options, limit: activation.qualityRegressionLimit });
  if (result.decision === 'rollback') await input.onRollback?.(result.numbers);
  return result;
}

/**
 * An arm's quality on the policy's weighted mix: turn validity (cluster-robust) plus the mean session
 * outcomes of its sessions, weights renormalised over the components used. The components' variances
 * add (their covariance is ignored); the result is expressed per turn so the sequential test reads it as before.
 */
function withSessionOutcomes(row: Record<string, number | string>, weights: QualityWeights, use: { completion: boolean; correctness: boolean }, turns: ArmStatistics): ArmStatistics {
  if (turns.n === 0 || (!use.completion && !use.correctness)) return turns;
  const parts: { weight: number; mean: number; varianceOfMean: number }[] = [{ weight: weights.toolUseAccuracy, mean: turns.mean, varianceOfMean: turns.variance / turns.n }];
  for (const [field, weight, on] of [['completion', weights.taskCompletion, use.completion], ['correctness', weights.codeCorrectness, use.correctness]] as const) {
    const n = Number(row[`${field}_n`] ?? 0);
    if (!on || n < 2) continue;
    const mean = Number(row[`${field}_sum`]) / n;
    const variance = Math.max(1e-4, (Number(row[`${field}_squares`]) - n * mean * mean) / (n - 1));
    parts.push({ weight, mean, varianceOfMean: variance / n });
  }
  const total = parts.reduce((sum, part) => sum + part.weight, 0);
  const mean = parts.reduce((sum, part) => sum + (part.weight / total) * part.mean, 0);
  const varianceOfMean = parts.reduce((sum, part) => sum + (part.weight / total) ** 2 * part.varianceOfMean, 0);
  return { ...turns, mean, variance: varianceOfMean * turns.n };
}

/**
 * One look at the three arms: the sequential test runs on the concurrent arms when the rule has a
 * holdout, else on the historical baseline; the other comparison is computed and reported too.
 */
export function judgeArms(arms: { baseline: ArmStatistics; holdout: ArmStatistics; treatment: ArmStatistics }, concurrent: boolean, options: SequentialTestOptions): GuardResult {
  const control = concurrent ? arms.holdout : arms.baseline;
  const tested = sequentialRegressionTest(control, arms.treatment, options);
  const gap = (other: ArmStatistics) => {
    if (other.n === 0 || arms.treatment.n === 0) return null;
    const variance = (entry: ArmStatistics) => Math.max(entry.variance, 1e-4) / Math.max(entry.n, 1);
    return { mean: other.mean - arms.treatment.mean, standardError: Math.sqrt(variance(other) + variance(arms.treatment)) };
  };
  return {
    decision: tested.decision,
    numbers: {
      ...tested.numbers,
      comparison: concurrent ? 'concurrent' : 'historical',
      control,
      baseline: arms.baseline,
      holdout: arms.holdout,
      concurrentRegression: gap(arms.holdout),
      historicalRegression: gap(arms.baseline),
    },
  };
}
