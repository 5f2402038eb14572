import { mean, probit } from 'simple-statistics';
import type { Price } from '../shared/policy/policy-schema.ts';
import { INPUT_TOKEN_BUCKET_COUNT, DAYS_PER_MONTH, costOfTokens, type SegmentAggregate } from './segment-aggregate.ts';
import type { ModelPair, RuleCandidate } from './search-space.ts';
import type { QualityComponents } from './session-outcomes.ts';

/** What the statistics need to know besides the data. */
export interface EstimateSettings {
  costCenter: string;
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
  /**
   * Session-level components of the candidate's pair and the turn-level weight (policy
   * `optimizer.quality_weights`). Absent = turn-level quality only.
   */
  session?: { turnWeight: number } & Pick<QualityComponents, 'taskCompletion' | 'codeCorrectness' | 'notes'>;
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
  /** Each component of quality and its part in the regression (turn validity, task completion, code correctness). */
  components: QualityComponents;
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

/** Hour prefix sums have 25 slots: slot h holds the sum over hours < h. */
const HOUR_SLOTS = 25;
const TABLE_SIZE = 2 * INPUT_TOKEN_BUCKET_COUNT * 2 * HOUR_SLOTS;

/** One cost center's sums for a pair, as hour prefix sums per (served side, bucket, day type). */
interface CenterTable {
  turns: Float64Array;
  scored: Float64Array;
  qualitySum: Float64Array;
  /** Window saving of moving the requested-model turns to the target (requested side only). */
  saving: Float64Array;
}

/**
 * A pair's aggregates of every cost center, indexed so that any candidate region sums in
 * O(cost centers × buckets) instead of a pass over all rows: the search evaluates many regions.
 */
export interface PairIndex {
  pair: ModelPair;
  /** Sorted by name, so every sum runs in the same order (determinism). */
  centers: [string, CenterTable][];
  variances: { requested: number; target: number };
}

function slot(side: number, bucket: number, dayType: number, hour: number): number {
  return ((side * INPUT_TOKEN_BUCKET_COUNT + bucket) * 2 + dayType) * HOUR_SLOTS + hour;
}

/** Builds the index of `pair` (requested-model rows served by the requested or the target model). */
export function buildPairIndex(aggregates: readonly SegmentAggregate[], pair: ModelPair, prices: { requested: Price; target: Price }): PairIndex {
  const rows = aggregates.filter((row) => row.requestedModel === pair.requestedModel && (row.servedModel === pair.requestedModel || row.servedModel === pair.targetModel));
  const tables = new Map<string, CenterTable>();
  for (const row of rows) {
    let table = tables.get(row.costCenter);
    if (!table) {
      table = { turns: new Float64Array(TABLE_SIZE), scored: new Float64Array(TABLE_SIZE), qualitySum: new Float64Array(TABLE_SIZE), saving: new Float64Array(TABLE_SIZE) };
      tables.set(row.costCenter, table);
    }
    const side = row.servedModel === pair.targetModel ? 1 : 0;
    // Written one slot past the hour; the prefix pass below accumulates.
    const at = slot(side, row.inputTokenBucket, row.dayType === 'weekend' ? 1 : 0, row.hour + 1);
    (table.turns[at] as number) += row.turns;
    (table.scored[at] as number) += row.scoredTurns;
    (table.qualitySum[at] as number) += row.qualitySum;
    if (side === 0) {
      (table.saving[at] as number) +=
        costOfTokens(prices.requested, row.inputTokens, row.cachedInputTokens, row.outputTokens) - costOfTokens(prices.target, row.inputTokens, row.cachedInputTokens, row.outputTokens);
    }
  }
  for (const table of tables.values())
    for (const array of [table.turns, table.scored, table.qualitySum, table.saving])
      for (let base = 0; base < TABLE_SIZE; base += HOUR_SLOTS) for (let hour = 1; hour < HOUR_SLOTS; hour += 1) (array[base + hour] as number) += array[base + hour - 1] as number;
  return {
    pair,
    centers: [...tables].sort(([a], [b]) => (a < b ? -1 : 1)),
    variances: {
      requested: pooledQualityVariance(rows.filter((row) => row.servedModel === pair.requestedModel)),
      target: pooledQualityVariance(rows.filter((row) => row.servedModel === pair.targetModel)),
    },
  };
}

/** Sum of one quantity over the candidate's hours and days for a (side, bucket). */
function regionSum(array: Float64Array, side: number, bucket: number, candidate: RuleCandidate): number {
  let total = 0;
  for (let dayType = 0; dayType < 2; dayType += 1) {
    if (candidate.days === 'weekday' && dayType === 1) continue;
    if (candidate.days === 'weekend' && dayType === 0) continue;
    const base = slot(side, bucket, dayType, 0);
    const end = candidate.startHour + candidate.lengthHours;
    if (end <= 24) total += (array[base + end] as number) - (array[base + candidate.startHour] as number);
    else total += (array[base + 24] as number) - (array[base + candidate.startHour] as number) + (array[base + end - 24] as number);
  }
  return total;
}

/** Per-stratum sums of every center inside the candidate's region. */
interface RegionData {
  perCenter: Map<string, { requested: Sums[]; target: Sums[] }>;
  affectedPerStratum: number[];
  windowSavingUsd: number;
}

function collectRegion(candidate: RuleCandidate, index: PairIndex, costCenter: string): RegionData {
  const perCenter = new Map<string, { requested: Sums[]; target: Sums[] }>();
  const affectedPerStratum = new Array<number>(INPUT_TOKEN_BUCKET_COUNT).fill(0);
  let windowSavingUsd = 0;
  for (const [center, table] of index.centers) {
    const strata = { requested: blankStrata(), target: blankStrata() };
    for (let bucket = 0; bucket <= candidate.thresholdIndex; bucket += 1) {
      strata.requested[bucket] = { n: regionSum(table.scored, 0, bucket, candidate), sum: regionSum(table.qualitySum, 0, bucket, candidate) };
      strata.target[bucket] = { n: regionSum(table.scored, 1, bucket, candidate), sum: regionSum(table.qualitySum, 1, bucket, candidate) };
      if (center !== costCenter) continue;
      affectedPerStratum[bucket] = regionSum(table.turns, 0, bucket, candidate) + regionSum(table.turns, 1, bucket, candidate);
      windowSavingUsd += regionSum(table.saving, 0, bucket, candidate);
    }
    perCenter.set(center, strata);
  }
  return { perCenter, affectedPerStratum, windowSavingUsd };
}

/**
 * Predicts saving and quality regression of a candidate for one cost center.
 * Quality gap per stratum (input-token bucket within the region) = requested-model mean − target-model
 * mean among turns that *requested* the expensive model (target-model turns come from exploration,
 * downgrades or fallbacks). Each cost center's gap is shrunk toward the other cost centers' (normal–normal
 * empirical Bayes, DerSimonian–Laird between-center variance), so thin segments borrow strength and
 * well-sampled ones keep their own estimate. Strata are disjoint data, so their variances add.
 */
export function estimateCandidate(candidate: RuleCandidate, index: PairIndex, settings: EstimateSettings): CandidateEstimate {
  const { perCenter, affectedPerStratum, windowSavingUsd } = collectRegion(candidate, index, settings.costCenter);
  const affectedTurns = affectedPerStratum.reduce((total, value) => total + value, 0);
  const gaps = gapsOf(perCenter, index.variances);
  const betweenVariance = derSimonianLaird(gaps);
  const own = perCenter.get(settings.costCenter) ?? { requested: blankStrata(), target: blankStrata() };
  const totals = { regressionMean: 0, regressionVariance: 0, baselineMean: 0, baselineVariance: 0, strata: 0, thinStrata: 0, baselineScored: 0, targetScored: 0, pooledTargetScored: 0 };
  const knownGaps: number[] = [];
  const unknownWeights: number[] = [];
  for (let k = 0; k < INPUT_TOKEN_BUCKET_COUNT; k += 1) {
    const weight = affectedTurns > 0 ? (affectedPerStratum[k] as number) / affectedTurns : 0;
    if (weight === 0) continue;
    totals.strata += 1;
    totals.baselineScored += (own.requested[k] as Sums).n;
    totals.targetScored += (own.target[k] as Sums).n;
    if ((own.target[k] as Sums).n < settings.minSegmentSamples) totals.thinStrata += 1;
    for (const [center, strata] of perCenter) if (center !== settings.costCenter) totals.pooledTargetScored += (strata.target[k] as Sums).n;
    const others = gaps.filter((entry) => entry.stratum === k && entry.center !== settings.costCenter);
    const posterior = shrink(gaps.find((entry) => entry.stratum === k && entry.center === settings.costCenter), others, betweenVariance);
    if (posterior) {
      totals.regressionMean += weight * posterior.mean;
      totals.regressionVariance += weight * weight * posterior.variance;
      knownGaps.push(posterior.mean);
    } else unknownWeights.push(weight);
    const baseline = baselineOf(k, own, perCenter, index.variances.requested);
    totals.baselineMean += weight * baseline.mean;
    totals.baselineVariance += weight * weight * baseline.variance;
  }
  // Strata nobody has observed: assume the average known gap, with a wide prior around it.
  const fillGap = knownGaps.length > 0 ? mean(knownGaps) : 0;
  for (const weight of unknownWeights) {
    totals.regressionMean += weight * fillGap;
    totals.regressionVariance += weight * weight * UNKNOWN_GAP_SD * UNKNOWN_GAP_SD;
  }
  return summarise(totals, { affectedTurns, windowSavingUsd, betweenVariance }, settings);
}

function gapsOf(perCenter: Map<string, { requested: Sums[]; target: Sums[] }>, variances: { requested: number; target: number }): { center: string; stratum: number; gap: number; variance: number }[] {
  const gaps: { center: string; stratum: number; gap: number; variance: number }[] = [];
  for (const [center, strata] of perCenter) {
    for (let k = 0; k < INPUT_TOKEN_BUCKET_COUNT; k += 1) {
      const requested = strata.requested[k] as Sums;
      const target = strata.target[k] as Sums;
      if (requested.n === 0 || target.n === 0) continue;
      gaps.push({ center, stratum: k, gap: requested.sum / requested.n - target.sum / target.n, variance: variances.requested / requested.n + variances.target / target.n });
    }
  }
  return gaps;
}

function summarise(
  totals: { regressionMean: number; regressionVariance: number; baselineMean: number; baselineVariance: number; strata: number; thinStrata: number; baselineScored: number; targetScored: number; pooledTargetScored: number },
  region: { affectedTurns: number; windowSavingUsd: number; betweenVariance: number },
  settings: EstimateSettings,
): CandidateEstimate {
  const z = probit(settings.credibleLevel);
  const combined = combineComponents(totals.regressionMean, totals.regressionVariance, settings.session);
  const regressionSd = Math.sqrt(combined.variance);
  const upperBound = combined.mean + z * regressionSd;
  const baselineSd = Math.sqrt(totals.baselineVariance);
  const predictedMean = totals.baselineMean - combined.mean;
  const predictedSd = Math.sqrt(totals.baselineVariance + combined.variance);
  const enoughSamples = totals.baselineScored >= settings.minRegionSamples && totals.targetScored + totals.pooledTargetScored >= settings.minRegionSamples;
  const constraint = upperBound - settings.qualityRegressionLimit;
  return {
    windowSavingUsd: region.windowSavingUsd,
    monthlySavingUsd: (region.windowSavingUsd * DAYS_PER_MONTH) / Math.max(1, settings.observedDays),
    affectedTurns: region.affectedTurns,
    trafficShare: settings.costCenterTurns > 0 ? region.affectedTurns / settings.costCenterTurns : 0,
    baselineQuality: { mean: totals.baselineMean, lower: totals.baselineMean - z * baselineSd, upper: totals.baselineMean + z * baselineSd },
    predictedQuality: { mean: predictedMean, lower: predictedMean - z * predictedSd, upper: predictedMean + z * predictedSd },
    regression: { mean: combined.mean, standardDeviation: regressionSd, upperBound },
    components: combined.components,
    samples: {
      baselineScoredTurns: totals.baselineScored,
      targetScoredTurns: totals.targetScored,
      pooledTargetScoredTurns: totals.pooledTargetScored,
      strata: totals.strata,
      thinStrata: totals.thinStrata,
      betweenCostCenterVariance: region.betweenVariance,
    },
    constraint,
    enoughSamples,
    feasible: enoughSamples && region.affectedTurns > 0 && constraint <= 0,
  };
}

/**
 * The candidate's regression on the weighted quality: turn-level regression of the region plus the
 * pair's session-level gaps, weights renormalised over the components that have data. Components are
 * estimated from different units (turns in the region, sessions of the pair), so their variances add.
 */
function combineComponents(turnMean: number, turnVariance: number, session: EstimateSettings['session']): { mean: number; variance: number; components: QualityComponents } {
  if (!session) {
    return { mean: turnMean, variance: turnVariance, components: { toolUseAccuracy: { weight: 1, regression: turnMean, standardDeviation: Math.sqrt(turnVariance) }, taskCompletion: null, codeCorrectness: null, notes: [] } };
  }
  const parts = [session.taskCompletion, session.codeCorrectness].filter((part) => part !== null);
  const total = session.turnWeight + parts.reduce((sum, part) => sum + part.weight, 0);
  const scale = total > 0 ? 1 / total : 0;
  let mean = session.turnWeight * scale * turnMean;
  let variance = (session.turnWeight * scale) ** 2 * turnVariance;
  for (const part of parts) {
    mean += part.weight * scale * part.gap;
    variance += (part.weight * scale) ** 2 * part.variance;
  }
  const normalised = (part: QualityComponents['taskCompletion']) => (part ? { ...part, weight: part.weight * scale } : null);
  return {
    mean,
    variance,
    components: {
      toolUseAccuracy: { weight: session.turnWeight * scale, regression: turnMean, standardDeviation: Math.sqrt(turnVariance) },
      taskCompletion: normalised(session.taskCompletion),
      codeCorrectness: normalised(session.codeCorrectness),
      notes: session.notes,
    },
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
