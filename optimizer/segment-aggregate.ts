import type { PolicyDocument, Price } from '../shared/policy/policy-schema.ts';
import type { SpanRow } from '../shared/telemetry/turn-record.ts';
import { policyModelPrice } from '../shared/pricing/model-catalog.ts';

/**
 * Upper edges (inclusive) of the input-token buckets. Bucket `k` holds turns with
 * `INPUT_TOKEN_EDGES[k-1] < input_tokens <= INPUT_TOKEN_EDGES[k]`; the last bucket is open-ended.
 * A rule threshold `T` is always one of these edges, so "input ≤ T" is a union of whole buckets.
 * Half-octave steps: Codex resends the whole conversation, so turns spread from ~1K to ~200K tokens.
 */
export const INPUT_TOKEN_EDGES: readonly number[] = Object.freeze([
  1_000, 2_000, 3_000, 4_000, 6_000, 8_000, 12_000, 16_000, 24_000, 32_000, 48_000, 64_000, 96_000, 128_000, 192_000,
]);

/** Number of buckets (`INPUT_TOKEN_EDGES.length + 1`, the last one open-ended). */
export const INPUT_TOKEN_BUCKET_COUNT = INPUT_TOKEN_EDGES.length + 1;

/** Same as the SQL `arrayCount(e -> e < input_tokens, edges)`. */
export function inputTokenBucketOf(inputTokens: number): number {
  let bucket = 0;
  for (const edge of INPUT_TOKEN_EDGES) if (edge < inputTokens) bucket += 1;
  return bucket;
}

export type DayType = 'weekday' | 'weekend';

/**
 * One row of the optimizer's input: turns of one (cost center, requested model, served model,
 * input-token bucket, hour of day, day type) with their tokens, cost and quality sums.
 * Quality is the mean of a turn's turn-level eval scores (0–1); unscored turns count in `turns`
 * but not in `scoredTurns`.
 */
export interface SegmentAggregate {
  costCenter: string;
  requestedModel: string;
  servedModel: string;
  /** Index into the buckets of {@link INPUT_TOKEN_EDGES}. */
  inputTokenBucket: number;
  /** Hour of day 0–23 in the cost center's time zone. */
  hour: number;
  dayType: DayType;
  turns: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number;
  scoredTurns: number;
  qualitySum: number;
  qualitySquaredSum: number;
}

/** Calendar days of traffic per cost center, to turn window savings into monthly ones. */
export type ObservedDays = Readonly<Record<string, number>>;

/** Average days per month used for every "per month" figure. */
export const DAYS_PER_MONTH = 365.25 / 12;

/** USD cost of a token mix at a model's price (OpenAI convention: input includes cached). */
export function costOfTokens(price: Price, inputTokens: number, cachedInputTokens: number, outputTokens: number): number {
  const cached = Math.min(cachedInputTokens, inputTokens);
  const cachedPrice = price.cached_input ?? price.input;
  return ((inputTokens - cached) * price.input + cached * cachedPrice + outputTokens * price.output) / 1_000_000;
}

/** Price of `model` in `policy`, or undefined when the policy does not define it. */
export function priceOf(policy: PolicyDocument, model: string): Price | undefined {
  return policyModelPrice(policy.models, model);
}

/** Hour (0–23), ISO weekday (1 = Monday … 7 = Sunday) and local calendar day number of an instant in a time zone. */
export function localHourAndWeekday(timestampMillis: number, timeZone: string): { hour: number; weekday: number; dayNumber: number } {
  if (timeZone === 'UTC') {
    const date = new Date(timestampMillis);
    return { hour: date.getUTCHours(), weekday: ((date.getUTCDay() + 6) % 7) + 1, dayNumber: Math.floor(timestampMillis / 86_400_000) };
  }
  const parts = formatterFor(timeZone).formatToParts(new Date(timestampMillis));
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((entry) => entry.type === type)?.value ?? '';
  const hour = Number(part('hour')) % 24;
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(part('weekday')) + 1;
  const dayNumber = Date.UTC(Number(part('year')), Number(part('month')) - 1, Number(part('day'))) / 86_400_000;
  return { hour, weekday, dayNumber };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Milliseconds since the epoch of a span `ts` ("2026-11-02 10:00:00.000" is UTC). */
export function parseSpanTimestamp(ts: string): number {
  return Date.parse(ts.includes('T') ? ts : `${ts.replace(' ', 'T')}Z`);
}

/**
 * In-memory twin of the aggregate SQL in `optimizer-queries.ts`: feeds turns one at a time
 * (the simulator produces hundreds of thousands) and yields the same rows the SQL would.
 */
export class SegmentAccumulator {
  readonly #rows = new Map<string, SegmentAggregate>();
  readonly #days = new Map<string, { first: number; last: number }>();
  readonly #timeZones: Readonly<Record<string, string>>;

  constructor(timeZones: Readonly<Record<string, string>> = {}) {
    this.#timeZones = timeZones;
  }

  /** Adds one turn; `quality` is the mean of its turn-level scores, undefined when unscored. */
  add(span: Pick<SpanRow, 'ts' | 'cost_center' | 'requested_model' | 'served_model' | 'input_tokens' | 'input_token_estimate' | 'cached_input_tokens' | 'output_tokens' | 'cost_usd' | 'status_code'>, quality: number | undefined): void {
    if (span.status_code >= 400 || span.requested_model === '' || span.served_model === '') return;
    const millis = parseSpanTimestamp(span.ts);
    const { hour, weekday, dayNumber } = localHourAndWeekday(millis, this.#timeZones[span.cost_center] ?? 'UTC');
    const dayType: DayType = weekday >= 6 ? 'weekend' : 'weekday';
    // Rules match on the gateway's pre-call estimate, so segments are cut on it too.
    const bucket = inputTokenBucketOf(span.input_token_estimate > 0 ? span.input_token_estimate : span.input_tokens);
    const key = `${span.cost_center}\u0000${span.requested_model}\u0000${span.served_model}\u0000${bucket}\u0000${hour}\u0000${dayType}`;
    let row = this.#rows.get(key);
    if (!row) {
      row = {
        costCenter: span.cost_center,
        requestedModel: span.requested_model,
        servedModel: span.served_model,
        inputTokenBucket: bucket,
        hour,
        dayType,
        turns: 0,
        inputTokens: 0,
        cachedInputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        scoredTurns: 0,
        qualitySum: 0,
        qualitySquaredSum: 0,
      };
      this.#rows.set(key, row);
    }
    row.turns += 1;
    row.inputTokens += span.input_tokens;
    row.cachedInputTokens += span.cached_input_tokens;
    row.outputTokens += span.output_tokens;
    row.costUsd += span.cost_usd;
    if (quality !== undefined) {
      row.scoredTurns += 1;
      row.qualitySum += quality;
      row.qualitySquaredSum += quality * quality;
    }
    const day = dayNumber;
    const seen = this.#days.get(span.cost_center);
    if (!seen) this.#days.set(span.cost_center, { first: day, last: day });
    else {
      seen.first = Math.min(seen.first, day);
      seen.last = Math.max(seen.last, day);
    }
  }

  /** Rows sorted like the SQL's ORDER BY, so both paths feed the search identically. */
  aggregates(): SegmentAggregate[] {
    return [...this.#rows.values()].sort(compareSegments);
  }

  /** Calendar days (local to each cost center) from the first to the last turn, inclusive, per cost center. */
  observedDays(): Record<string, number> {
    return Object.fromEntries([...this.#days].map(([costCenter, { first, last }]) => [costCenter, last - first + 1]));
  }
}

/** The canonical order of aggregate rows (cost center, requested, served, bucket, day type, hour). */
export function compareSegments(a: SegmentAggregate, b: SegmentAggregate): number {
  return (
    compareText(a.costCenter, b.costCenter) ||
    compareText(a.requestedModel, b.requestedModel) ||
    compareText(a.servedModel, b.servedModel) ||
    a.inputTokenBucket - b.inputTokenBucket ||
    compareText(a.dayType, b.dayType) ||
    a.hour - b.hour
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
