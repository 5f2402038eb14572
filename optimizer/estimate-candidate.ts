import { mean, probit } from 'simple-statistics';
import type { Price } from '../shared/policy/policy-schema.ts';
import { INPUT_TOKEN_BUCKET_COUNT, DAYS_PER_MONTH, costOfTokens, type SegmentAggregate } from './segment-aggregate.ts';
import { candidateCovers, type ModelPair, type RuleCandidate } from './search-space.ts';

/** What the statistics need to know besides the data. */
export interface EstimateSettings {
  costCenter: string;
  pair: ModelPair;
  requestedPrice: Price;
  targetPrice: Price;
  /** Calendar days the cost center's aggregates span. */
  observedDays: number;
  /** All turns of the cost center in the window (denominator of the traffic share). */
  costCenterTurns: number;
  /** One-sided credible level of the regression bound. @defaultValue 0.95 */
  credibleLevel: number;
  /** A stratum (input-token bucket inside the region) with fewer own target-model samples is "thin" and leans on other cost centers. */
  minSegmentSamples: number;
  /** Scored turns of each model (own + pooled for the target) the whole region needs. */
  minRegionSamples: number;
  qualityRegressionLimit: number;
}

/** A mean with a symmetric credible interval at the run's credible level. */
export interface Interval {
  mean: number;
  lower: number;
  upper: number;
}

/** Everything the search and the proposal know about one candidate rule. */
export interface CandidateEstimate {
  windowSavingUsd: number;
  monthlySavingUsd: number;
  affectedTurns: number;
  /** Affected turns / all turns of the cost center. */
  trafficShare: number;
  baselineQuality: Interval;
  predictedQuality: Interval;
  /** Mean quality drop (requested minus target model) on the affected turns, 0–1 score scale. */
  regression: { mean: number; standardDeviation: number; upperBound: number };
  samples: {
    baselineScoredTurns: number;
    targetScoredTurns: number;
    pooledTargetScoredTurns: number;
    strata: number;
    thinStrata: number;
    /** Between-cost-center variance of the quality gap (empirical Bayes). */
    betweenCostCenterVariance: number;
  };
  /** `regression.upperBound − limit`; ≤ 0 means the quality constraint holds. */
  constraint: number;
  enoughSamples: boolean;
  feasible: boolean;
}

interface Sums {
  n: number;
  sum: number;
}

/** Prior standard deviation of a quality gap nobody has observed yet: wide on purpose. */
const UNKNOWN_GAP_SD = 0.15;

/**
 * Per-model within-turn quality variance, pooled over every cell (cells are too thin to trust
 * their own variance). Falls back to 0.04 (sd 0.2) when there is nothing to pool.
 */
export function pooledQualityVariance(rows: readonly SegmentAggregate[]): number {
  let squares = 0;
  let degrees = 0;
  for (const row of rows) {
    if (row.scoredTurns < 2) continue;
    squares += row.qualitySquaredSum - (row.qualitySum * row.qualitySum) / row.scoredTurns;
    degrees += row.scoredTurns - 1;
  }
  return degrees > 0 ? Math.max(squares / degrees, 1e-4) : 0.04;
}

/**
 * Predicts saving and quality regression of a candidate for one cost center.
 * Quality gap per stratum (input-token bucket within the region) = requested-model mean − target-model
 * mean among turns that *requested* the expensive model (target-model turns come from exploration,
 * downgrades or fallbacks). Each cost center's gap is shrunk toward the other cost centers' (normal–normal
 * empirical Bayes, DerSimonian–Laird between-center variance), so thin segments borrow strength and
 * well-sampled ones keep their own estimate. Strata are disjoint data, so their variances add.
 *
 * `rows` holds the pair's rows (requested = pair.requestedModel, served ∈ {requested, target}) of every cost center.
 */
export function estimateCandidate(candidate: RuleCandidate, rows: readonly SegmentAggregate[], variances: { requested: number; target: number }, settings: EstimateSettings): CandidateEstimate {
  const { pair } = settings;
  const perCenter = new Map<string, { requested: Sums[]; target: Sums[] }>();
  const strataOf = (center: string) => {
    let strata = perCenter.get(center);
    if (!strata) {
      strata = { requested: blankStrata(), target: blankStrata() };
      perCenter.set(center, strata);
    }
    return strata;
  };
  const affectedPerStratum = new Array<number>(INPUT_TOKEN_BUCKET_COUNT).fill(0);
  let windowSavingUsd = 0;
  for (const row of rows) {
    if (!candidateCovers(candidate, row.inputTokenBucket, row.hour, row.dayType)) continue;
    const isTarget = row.servedModel === pair.targetModel;
    const stratum = (isTarget ? strataOf(row.costCenter).target : strataOf(row.costCenter).requested)[row.inputTokenBucket] as Sums;
    stratum.n += row.scoredTurns;
    stratum.sum += row.qualitySum;
    if (row.costCenter !== settings.costCenter) continue;
    affectedPerStratum[row.inputTokenBucket] = (affectedPerStratum[row.inputTokenBucket] as number) + row.turns;
    if (!isTarget) {
      windowSavingUsd +=
        costOfTokens(settings.requestedPrice, row.inputTokens, row.cachedInputTokens, row.outputTokens) -
        costOfTokens(settings.targetPrice, row.inputTokens, row.cachedInputTokens, row.outputTokens);
    }
  }
  const affectedTurns = affectedPerStratum.reduce((total, value) => total + value, 0);

  // Quality gap per (center, stratum) with its sampling variance.
  const gaps: { center: string; stratum: number; gap: number; variance: number }[] = [];
  for (const [center, strata] of perCenter) {
    for (let k = 0; k < INPUT_TOKEN_BUCKET_COUNT; k += 1) {
      const requested = strata.requested[k] as Sums;
      const target = strata.target[k] as Sums;
      if (requested.n === 0 || target.n === 0) continue;
      gaps.push({ center, stratum: k, gap: requested.sum / requested.n - target.sum / target.n, variance: variances.requested / requested.n + variances.target / target.n });
    }
  }
  const betweenVariance = derSimonianLaird(gaps);

  const z = probit(settings.credibleLevel);
  const own = perCenter.get(settings.costCenter) ?? { requested: blankStrata(), target: blankStrata() };
  let regressionMean = 0;
  let regressionVariance = 0;
  let baselineMean = 0;
  let baselineVariance = 0;
  let strataCount = 0;
  let thinStrata = 0;
  let baselineScoredTurns = 0;
  let targetScoredTurns = 0;
  let pooledTargetScoredTurns = 0;
  const knownGaps: number[] = [];
  const unknown: number[] = [];
  for (let k = 0; k < INPUT_TOKEN_BUCKET_COUNT; k += 1) {
    const weight = affectedTurns > 0 ? (affectedPerStratum[k] as number) / affectedTurns : 0;
    if (weight === 0) continue;
    strataCount += 1;
    const ownRequested = own.requested[k] as Sums;
    const ownTarget = own.target[k] as Sums;
    baselineScoredTurns += ownRequested.n;
    targetScoredTurns += ownTarget.n;
    if (ownTarget.n < settings.minSegmentSamples) thinStrata += 1;
    const others = gaps.filter((entry) => entry.stratum === k && entry.center !== settings.costCenter);
    for (const [center, strata] of perCenter) if (center !== settings.costCenter) pooledTargetScoredTurns += (strata.target[k] as Sums).n;
    const ownGap = gaps.find((entry) => entry.stratum === k && entry.center === settings.costCenter);
    const posterior = shrink(ownGap, others, betweenVariance);
    if (posterior) {
      regressionMean += weight * posterior.mean;
      regressionVariance += weight * weight * posterior.variance;
      knownGaps.push(posterior.mean);
    } else unknown.push(weight);
    const baseline = baselineOf(k, own, perCenter, variances.requested);
    baselineMean += weight * baseline.mean;
    baselineVariance += weight * weight * baseline.variance;
  }
  // Strata nobody has observed: assume the average known gap, with a wide prior around it.
  const fillGap = knownGaps.length > 0 ? mean(knownGaps) : 0;
  for (const weight of unknown) {
    regressionMean += weight * fillGap;
    regressionVariance += weight * weight * UNKNOWN_GAP_SD * UNKNOWN_GAP_SD;
  }
  const regressionSd = Math.sqrt(regressionVariance);
  const upperBound = regressionMean + z * regressionSd;
  const baselineSd = Math.sqrt(baselineVariance);
  const predictedMean = baselineMean - regressionMean;
  const predictedSd = Math.sqrt(baselineVariance + regressionVariance);
  const enoughSamples = baselineScoredTurns >= settings.minRegionSamples && targetScoredTurns + pooledTargetScoredTurns >= settings.minRegionSamples;
  const constraint = upperBound - settings.qualityRegressionLimit;
  const monthlySavingUsd = (windowSavingUsd * DAYS_PER_MONTH) / Math.max(1, settings.observedDays);
  return {
    windowSavingUsd,
    monthlySavingUsd,
    affectedTurns,
    trafficShare: settings.costCenterTurns > 0 ? affectedTurns / settings.costCenterTurns : 0,
    baselineQuality: { mean: baselineMean, lower: baselineMean - z * baselineSd, upper: baselineMean + z * baselineSd },
    predictedQuality: { mean: predictedMean, lower: predictedMean - z * predictedSd, upper: predictedMean + z * predictedSd },
    regression: { mean: regressionMean, standardDeviation: regressionSd, upperBound },
    samples: { baselineScoredTurns, targetScoredTurns, pooledTargetScoredTurns, strata: strataCount, thinStrata, betweenCostCenterVariance: betweenVariance },
    constraint,
    enoughSamples,
    feasible: enoughSamples && affectedTurns > 0 && constraint <= 0,
  };
}

function blankStrata(): Sums[] {
  return Array.from({ length: INPUT_TOKEN_BUCKET_COUNT }, () => ({ n: 0, sum: 0 }));
}

/** Normal–normal posterior of a center's gap given the other centers' gaps as its prior. */
function shrink(own: { gap: number; variance: number } | undefined, others: readonly { gap: number; variance: number }[], betweenVariance: number): { mean: number; variance: number } | undefined {
  let priorPrecision = 0;
  let priorWeighted = 0;
  for (const other of others) {
    const precision = 1 / (other.variance + betweenVariance);
    priorPrecision += precision;
    priorWeighted += precision * other.gap;
  }
  if (priorPrecision === 0) return own ? { mean: own.gap, variance: own.variance } : undefined;
  const priorMean = priorWeighted / priorPrecision;
  // A new center's gap = pooled mean + its own deviation (variance τ²).
  const priorVariance = 1 / priorPrecision + betweenVariance;
  if (!own) return { mean: priorMean, variance: priorVariance };
  const precision = 1 / own.variance + 1 / priorVariance;
  return { mean: (own.gap / own.variance + priorMean / priorVariance) / precision, variance: 1 / precision };
}

/** Requested-model quality of a stratum: the center's own mean, or the other centers' when it has none. */
function baselineOf(stratum: number, own: { requested: Sums[] }, perCenter: Map<string, { requested: Sums[] }>, variance: number): { mean: number; variance: number } {
  const ownSums = own.requested[stratum] as Sums;
  if (ownSums.n > 0) return { mean: ownSums.sum / ownSums.n, variance: variance / ownSums.n };
  let n = 0;
  let sum = 0;
  for (const strata of perCenter.values()) {
    n += (strata.requested[stratum] as Sums).n;
    sum += (strata.requested[stratum] as Sums).sum;
  }
  return n > 0 ? { mean: sum / n, variance: variance / n } : { mean: 0, variance: 0.25 };
}

/**
 * DerSimonian–Laird between-center variance τ², pooled over strata:
 * τ² = max(0, (Q − df) / (S1 − S2/S1)) with Q summed per stratum around its precision-weighted mean.
 */
export function derSimonianLaird(gaps: readonly { stratum: number; gap: number; variance: number }[]): number {
  let q = 0;
  let degrees = 0;
  let scale = 0;
  const byStratum = new Map<number, { gap: number; variance: number }[]>();
  for (const entry of gaps) byStratum.set(entry.stratum, [...(byStratum.get(entry.stratum) ?? []), entry]);
  for (const entries of byStratum.values()) {
    if (entries.length < 2) continue;
    const weights = entries.map((entry) => 1 / entry.variance);
    const s1 = weights.reduce((total, value) => total + value, 0);
    const s2 = weights.reduce((total, value) => total + value * value, 0);
    const pooled = entries.reduce((total, entry, index) => total + (weights[index] as number) * entry.gap, 0) / s1;
    q += entries.reduce((total, entry, index) => total + (weights[index] as number) * (entry.gap - pooled) ** 2, 0);
    degrees += entries.length - 1;
    scale += s1 - s2 / s1;
  }
  return scale > 0 ? Math.max(0, (q - degrees) / scale) : 0;
}
