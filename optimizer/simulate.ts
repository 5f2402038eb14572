import { PolicySchema, type PolicyDocument, type Price, type RoutingRule } from '../shared/policy/policy-schema.ts';
import type { SpanRow } from '../shared/telemetry/turn-record.ts';
import type { EvalScoreRow } from '../shared/telemetry/eval-score-row.ts';
import { createSeededRandom, type SeededRandom } from './seeded-random.ts';
import { DAYS_PER_MONTH, costOfTokens, inputTokenBucketOf, INPUT_TOKEN_BUCKET_COUNT, type DayType } from './segment-aggregate.ts';
import { candidateCovers, type RuleCandidate } from './search-space.ts';

/**
 * Synthetic Codex traffic with a known ground truth, for the optimizer's tests, the bench and
 * end-to-end tests. Developers open sessions during working hours (a few autonomous agent runs
 * at night); input grows turn after turn as Codex resends the conversation. 10% of turns that ask
 * for the expensive model are explored on a cheaper one. Truth: the mid model is as good as the
 * expensive one up to 6K input tokens, then loses 3 points per doubling and 4 more at night;
 * the small model is clearly worse everywhere.
 */
export const SIMULATED_MODELS = {
  expensive: 'gpt-5.1',
  cheaper: 'gpt-5.1-mini',
  cheapest: 'gpt-5.1-nano',
} as const;

const PRICES: Record<string, Price> = {
  'gpt-5.1': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5.1-nano': { input: 0.05, cached_input: 0.005, output: 0.4 },
};

export const SIMULATED_COST_CENTERS = ['data-eng', 'finance-squad', 'mobile', 'platform'] as const;

/** True mean turn quality (0–1) of `model` on a turn of `inputTokens` at local `hour`. */
export function trueQuality(model: string, inputTokens: number, hour: number): number {
  const expensive = 0.86 - 0.06 * Math.min(1, Math.max(0, Math.log2(inputTokens / 2000) / 6));
  if (model === SIMULATED_MODELS.expensive) return expensive;
  if (model === SIMULATED_MODELS.cheaper) {
    const sizeGap = inputTokens <= 6000 ? 0 : 0.03 * Math.log2(inputTokens / 6000);
    const nightGap = hour < 6 ? 0.04 : 0;
    return expensive - Math.min(0.2, sizeGap + nightGap);
  }
  return expensive - 0.06 - 0.03 * Math.log2(Math.max(1, inputTokens / 2000));
}

export interface SimulationOptions {
  seed: number;
  /** @defaultValue 300 */
  developers?: number;
  /** @defaultValue 21 */
  days?: number;
  /** Midnight UTC of the first day (a Monday). @defaultValue 2026-10-05T00:00:00Z */
  startIso?: string;
  /** Share of expensive-model turns served by a cheaper model to learn its quality. @defaultValue 0.1 */
  explorationRate?: number;
  /** Mean sessions per developer per weekday. @defaultValue 4 */
  sessionsPerWeekday?: number;
  /** Share of turns the evaluator scores. @defaultValue 0.85 */
  scoredShare?: number;
  /** Policy version written on spans and scores. @defaultValue 1 */
  policyVersion?: number;
  /**
   * Routing rules in force (first match wins, as in the gateway): a matching turn is served by
   * `route_to` and carries `rule_id`; a dry-run rule only tags the span (`rule_dry_run`,
   * `dry_run_decision`). Exploration applies to turns no enforced rule routed.
   */
  rules?: readonly RoutingRule[];
  /** Seed of the organisation (who works where, who asks for which model), so a later period can keep the same people. @defaultValue seed */
  organisationSeed?: number;
  /** Explore whole sessions (as the gateway draws by session) instead of single turns. @defaultValue false */
  explorePerSession?: boolean;
  /** Ground truth overrides: turn quality per model, and the probability a session served mostly by `model` completes its task. */
  truth?: { turnQuality?: (model: string, inputTokens: number, hour: number) => number; completion?: (model: string) => number };
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** The gateway's rule matching for the conditions the optimizer uses (UTC cost centers). */
export function simulatedRuleMatch(rules: readonly RoutingRule[], facts: { costCenter: string; requestedModel: string; inputTokens: number; date: Date }): RoutingRule | undefined {
  const hour = facts.date.getUTCHours();
  const day = DAY_NAMES[facts.date.getUTCDay()] as (typeof DAY_NAMES)[number];
  return rules.find((rule) => {
    const when = rule.when;
    if (rule.cost_centers.length > 0 && !rule.cost_centers.includes(facts.costCenter)) return false;
    if (when.requested_models && !when.requested_models.includes(facts.requestedModel)) return false;
    if (when.input_tokens?.min !== undefined && facts.inputTokens < when.input_tokens.min) return false;
    if (when.input_tokens?.max !== undefined && facts.inputTokens > when.input_tokens.max) return false;
    if (when.hours) {
      const [start, end] = when.hours;
      if (start <= end ? hour < start || hour >= end : hour < start && hour >= end) return false;
    }
    return !when.days || when.days.includes(day);
  });
}

export type { EvalScoreRow };

/** Ground-truth facts of one turn, for truth accounting. */
export interface TurnTruth {
  costCenter: string;
  requestedModel: string;
  servedModel: string;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  hour: number;
  dayType: DayType;
}

export interface SimulationSummary {
  turns: number;
  scoredTurns: number;
  days: number;
}

/** The policy the simulated organisation runs under. */
export function simulationPolicy(options: { qualityRegressionLimit?: number; explorationRate?: number; qualityWeights?: Record<string, number> } = {}): PolicyDocument {
  const models = Object.fromEntries(Object.entries(PRICES).map(([name, price]) => [name, { provider: 'openai', upstream: name, price }]));
  const centers = Object.fromEntries(
    SIMULATED_COST_CENTERS.map((name) => [
      name,
      {
        allowed_models: Object.keys(PRICES),
        quality_regression_limit: options.qualityRegressionLimit ?? 0.02,
        exploration: { rate: options.explorationRate ?? 0.1, models: [SIMULATED_MODELS.cheaper, SIMULATED_MODELS.cheapest] },
      },
    ]),
  );
  // Turn-level quality unless asked: the default simulation's session outcome is a coin flip on the last
  // turn's quality, not a model of sessions, and its ground truth (SimulationTruth) is turn-level.
  return PolicySchema.parse({ models, cost_centers: centers, optimizer: { quality_weights: options.qualityWeights ?? { tool_use_accuracy: 1, task_completion: 0, code_correctness: 0 } } });
}

/**
 * Generates the traffic turn by turn (hundreds of thousands of turns: nothing is kept in memory).
 */
/** Receives the simulated rows as they are made. */
export interface SimulationSink {
  /** One turn: its span row, its turn-level eval score rows (none when unscored) and its truth facts. */
  turn(span: SpanRow, scores: EvalScoreRow[], truth: TurnTruth): void;
  /** A session-level score (turn_id empty), written when a session ends. */
  sessionScore?(score: EvalScoreRow): void;
}

// Over 60 lines: one seeded simulation, kept whole: the order of the random draws is the output, and the loops read day → developer → session → turn.
export function simulateTraffic(options: SimulationOptions, sink: SimulationSink): SimulationSummary {
  const random = createSeededRandom(options.seed);
  const developers = options.developers ?? 300;
  const days = options.days ?? 21;
  const start = Date.parse(options.startIso ?? '2026-10-05T00:00:00Z');
  const exploration = options.explorationRate ?? 0.1;
  const sessionsPerWeekday = options.sessionsPerWeekday ?? 4;
  const scoredShare = options.scoredShare ?? 0.85;
  const policyVersion = options.policyVersion ?? 1;
  const summary: SimulationSummary = { turns: 0, scoredTurns: 0, days };
  const organisation = options.organisationSeed === undefined ? random : createSeededRandom(options.organisationSeed);
  const profiles = Array.from({ length: developers }, (_, index) => ({
    developer: `dev-${String(index).padStart(4, '0')}`,
    costCenter: SIMULATED_COST_CENTERS[index % SIMULATED_COST_CENTERS.length] as string,
    requestedModel: organisation.next() < 0.9 ? SIMULATED_MODELS.expensive : SIMULATED_MODELS.cheaper,
  }));
  let sequence = 0;
  const id = (prefix: string) => `${prefix}${(sequence++).toString(36).padStart(8, '0')}${random.nextInt(1 << 30).toString(36)}`;
  for (let day = 0; day < days; day += 1) {
    const weekend = new Date(start + day * 86_400_000).getUTCDay() % 6 === 0;
    for (const profile of profiles) {
      const sessions = weekend ? (random.next() < 0.08 ? 1 : 0) : random.poisson(sessionsPerWeekday);
      for (let session = 0; session < sessions; session += 1) {
        const night = random.next() < 0.06;
        const startHour = night ? random.next() * 6 : Math.min(23.5, Math.max(6, 13 + 3 * random.normal()));
        let clock = start + day * 86_400_000 + Math.floor(startHour * 3_600_000);
        const sessionId = id('ses_');
        const turns = Math.min(60, 1 + Math.floor(Math.log(1 - random.next()) / Math.log(1 - 1 / 12)));
        let inputTokens = 1500 + Math.floor(-3000 * Math.log(1 - random.next()));
        const growth = 1500 + random.nextInt(2500);
        let previousServed = '';
        let sessionQuality = 0;
        const servedTurns = new Map<string, number>();
        const sessionExplores = options.explorePerSession === true && profile.requestedModel === SIMULATED_MODELS.expensive && random.next() < exploration;
        const sessionTarget = sessionExplores ? random.pick([SIMULATED_MODELS.cheaper, SIMULATED_MODELS.cheapest]) : '';
        const last = { requestId: '', served: '', hour: 0, bucket: 0, ts: '' };
        for (let turn = 0; turn < turns; turn += 1) {
          const date = new Date(clock);
          const rule = simulatedRuleMatch(options.rules ?? [], { costCenter: profile.costCenter, requestedModel: profile.requestedModel, inputTokens, date });
          const exploring = options.explorePerSession === true ? sessionExplores : profile.requestedModel === SIMULATED_MODELS.expensive && random.next() < exploration;
          const explored = options.explorePerSession === true ? sessionTarget : exploring ? random.pick([SIMULATED_MODELS.cheaper, SIMULATED_MODELS.cheapest]) : '';
          const served = rule && !rule.dry_run ? rule.route_to : exploring ? explored : profile.requestedModel;
          servedTurns.set(served, (servedTurns.get(served) ?? 0) + 1);
          const cached = turn > 0 && served === previousServed ? Math.floor(inputTokens * 0.85) : 0;
          const outputTokens = 200 + Math.floor(-600 * Math.log(1 - random.next()));
          const hour = date.getUTCHours();
          const dayType: DayType = date.getUTCDay() % 6 === 0 ? 'weekend' : 'weekday';
          const ts = date.toISOString().replace('T', ' ').replace('Z', '');
          const requestId = id('req_');
          const turnId = `${sessionId}:${turn}`;
          const quality = (options.truth?.turnQuality ?? trueQuality)(served, inputTokens, hour);
          sessionQuality = quality;
          const span = spanRow({ ts, requestId, sessionId, turnId, turn, profile, served, inputTokens, cached, outputTokens, policyVersion, exploring: served !== profile.requestedModel && !(rule && !rule.dry_run), random });
          if (rule) {
            span.rule_id = rule.id;
            span.rule_dry_run = rule.dry_run;
            if (rule.dry_run) span.dry_run_decision = `rule ${rule.id} would route ${profile.requestedModel} -> ${rule.route_to}`;
          }
          const scores: EvalScoreRow[] = [];
          const bucketLowerBound = evaluatorBucket(inputTokens);
          if (random.next() < scoredShare) {
            summary.scoredTurns += 1;
            for (const scorer of ['tool_call_validity', 'tool_use_accuracy']) {
              const row = scoreRow({ ts, sessionId, turnId, requestId, level: 'turn', scorer, value: random.beta(quality * 30, (1 - quality) * 30), profile, served, hour, bucket: bucketLowerBound, policyVersion });
              if (rule) Object.assign(row, { rule_id: rule.id, dry_run: rule.dry_run });
              scores.push(row);
            }
          }
          summary.turns += 1;
          sink.turn(span, scores, { costCenter: profile.costCenter, requestedModel: profile.requestedModel, servedModel: served, inputTokens, cachedInputTokens: cached, outputTokens, hour, dayType });
          Object.assign(last, { requestId, served, hour, bucket: bucketLowerBound, ts });
          previousServed = served;
          inputTokens += growth + outputTokens;
          clock += 60_000 + random.nextInt(180_000);
        }
        // Session-level score (turn_id empty): the optimizer ignores these, the evaluator writes them.
        const majority = [...servedTurns].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1))[0]?.[0] ?? last.served;
        const completes = options.truth?.completion ? options.truth.completion(majority) : sessionQuality;
        const completion = scoreRow({ ts: last.ts, sessionId, turnId: '', requestId: '', level: 'session', scorer: 'task_completion', value: random.next() < completes ? 1 : 0, profile, served: last.served, hour: last.hour, bucket: last.bucket, policyVersion });
        sink.sessionScore?.(completion);
      }
    }
  }
  return summary;
}

/** The evaluator's bucket (lower bound, shared/tool-signals): 0, 1000, 2000, 4000, … 256000. */
function evaluatorBucket(tokens: number): number {
  for (const bound of [256_000, 128_000, 64_000, 32_000, 16_000, 8_000, 4_000, 2_000, 1_000]) if (tokens >= bound) return bound;
  return 0;
}

interface SpanInput {
  ts: string;
  requestId: string;
  sessionId: string;
  turnId: string;
  turn: number;
  profile: { developer: string; costCenter: string; requestedModel: string };
  served: string;
  inputTokens: number;
  cached: number;
  outputTokens: number;
  policyVersion: number;
  exploring: boolean;
  random: SeededRandom;
}

function spanRow(input: SpanInput): SpanRow {
  const price = PRICES[input.served] as Price;
  return {
    ts: input.ts,
    request_id: input.requestId,
    trace_id: input.requestId.padEnd(32, '0').slice(0, 32),
    span_id: input.requestId.slice(-16).padStart(16, '0'),
    session_id: input.sessionId,
    turn_id: input.turnId,
    turn_seq: input.turn,
    developer: input.profile.developer,
    identity: `${input.profile.developer}@example.com`,
    cost_center: input.profile.costCenter,
    repo: 'example/monorepo',
    key_id: `key-${input.profile.developer}`,
    tags: [],
    requested_model: input.profile.requestedModel,
    served_model: input.served,
    provider: 'openai',
    provider_type: 'openai',
    inbound_protocol: 'openai-responses',
    stream: true,
    status_code: 200,
    error_code: '',
    error_message: '',
    input_tokens: input.inputTokens,
    cached_input_tokens: input.cached,
    cache_write_tokens: 0,
    output_tokens: input.outputTokens,
    reasoning_tokens: Math.floor(input.outputTokens / 3),
    cost_usd: costOfTokens(price, input.inputTokens, input.cached, input.outputTokens),
    price_source: 'policy',
    guardrail_findings: 0,
    guardrail_hook: '',
    budget_stage: 'ok',
    downgraded_from: '',
    fallback_from: '',
    hop_reason: input.exploring ? 'exploration' : '',
    attempts: '[]',
    rule_id: '',
    rule_dry_run: false,
    experiment_arm: input.exploring ? 'exploration' : '',
    reasoning_effort: '',
    requested_reasoning_effort: '',
    policy_version: input.policyVersion,
    dry_run_decision: '',
    translation_warnings: [],
    tool_call_count: 1 + input.random.nextInt(3),
    input_token_estimate: input.inputTokens,
    duration_ms: 2000 + input.random.nextInt(20_000),
    ttfb_ms: 300 + input.random.nextInt(1500),
    client: 'codex_cli_rs/0.171.0',
    capture: 'metadata',
  };
}

interface ScoreInput {
  ts: string;
  sessionId: string;
  turnId: string;
  requestId: string;
  level: 'turn' | 'session';
  scorer: string;
  value: number;
  profile: { developer: string; costCenter: string; requestedModel: string };
  served: string;
  hour: number;
  bucket: number;
  policyVersion: number;
}

function scoreRow(input: ScoreInput): EvalScoreRow {
  return {
    ts: input.ts,
    session_id: input.sessionId,
    turn_id: input.turnId,
    request_id: input.requestId,
    level: input.level,
    scorer: input.scorer,
    scorer_version: 1,
    value: input.value,
    reasons: [],
    served_model: input.served,
    provider: 'openai',
    cost_center: input.profile.costCenter,
    developer: input.profile.developer,
    policy_version: input.policyVersion,
    rule_id: '',
    requested_model: input.profile.requestedModel,
    input_token_bucket: input.bucket,
    hour: input.hour,
    dry_run: false,
    scored_at: input.ts,
  };
}

/**
 * Ground truth of what a rule would do on traffic: accumulate turns with {@link add}, then ask
 * {@link evaluate} for the true monthly saving and true mean quality regression of a candidate.
 */
export class SimulationTruth {
  /** Per cost center, arrays indexed by cell (bucket, day type, hour), for turns that requested the expensive model. */
  readonly #centers = new Map<string, { turns: Float64Array; gap: Map<string, Float64Array>; saving: Map<string, Float64Array> }>();
  readonly #days: number;

  constructor(days: number) {
    this.#days = days;
  }

  add(truth: TurnTruth): void {
    if (truth.requestedModel !== SIMULATED_MODELS.expensive) return;
    let center = this.#centers.get(truth.costCenter);
    if (!center) {
      center = { turns: new Float64Array(CELLS), gap: new Map(), saving: new Map() };
      this.#centers.set(truth.costCenter, center);
    }
    const cell = cellIndex(inputTokenBucketOf(truth.inputTokens), truth.dayType, truth.hour);
    (center.turns[cell] as number) += 1;
    const requestedPrice = PRICES[truth.requestedModel] as Price;
    for (const target of [SIMULATED_MODELS.cheaper, SIMULATED_MODELS.cheapest]) {
      const gaps = center.gap.get(target) ?? new Float64Array(CELLS);
      const savings = center.saving.get(target) ?? new Float64Array(CELLS);
      center.gap.set(target, gaps);
      center.saving.set(target, savings);
      (gaps[cell] as number) += trueQuality(truth.requestedModel, truth.inputTokens, truth.hour) - trueQuality(target, truth.inputTokens, truth.hour);
      // Turns already served by the cheaper model (exploration) save nothing more.
      if (truth.servedModel === truth.requestedModel) {
        (savings[cell] as number) +=
          costOfTokens(requestedPrice, truth.inputTokens, truth.cachedInputTokens, truth.outputTokens) -
          costOfTokens(PRICES[target] as Price, truth.inputTokens, truth.cachedInputTokens, truth.outputTokens);
      }
    }
  }

  /** True monthly saving and mean regression of routing the candidate's region to `target`. */
  evaluate(costCenter: string, target: string, candidate: RuleCandidate): { monthlySavingUsd: number; regression: number; affectedTurns: number } {
    const center = this.#centers.get(costCenter);
    const gaps = center?.gap.get(target);
    const savings = center?.saving.get(target);
    if (!center || !gaps || !savings) return { monthlySavingUsd: 0, regression: 0, affectedTurns: 0 };
    let turns = 0;
    let gap = 0;
    let saving = 0;
    for (let bucket = 0; bucket <= candidate.thresholdIndex; bucket += 1)
      for (const dayType of ['weekday', 'weekend'] as const)
        for (let hour = 0; hour < 24; hour += 1) {
          if (!candidateCovers(candidate, bucket, hour, dayType)) continue;
          const cell = cellIndex(bucket, dayType, hour);
          turns += center.turns[cell] as number;
          gap += gaps[cell] as number;
          saving += savings[cell] as number;
        }
    return { monthlySavingUsd: (saving * DAYS_PER_MONTH) / this.#days, regression: turns > 0 ? gap / turns : 0, affectedTurns: turns };
  }
}

const CELLS = INPUT_TOKEN_BUCKET_COUNT * 2 * 24;

function cellIndex(bucket: number, dayType: DayType, hour: number): number {
  return (bucket * 2 + (dayType === 'weekend' ? 1 : 0)) * 24 + hour;
}
