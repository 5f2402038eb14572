import { describe, expect, it } from 'vitest';
import { PolicySchema, RuleSchema } from '../../shared/policy/policy-schema.ts';
import { candidateCovers, enumerateCandidates, hoursOf, modelPairsFor, neighbours, ruleOf, type RuleCandidate } from '../../optimizer/search-space.ts';
import { INPUT_TOKEN_EDGES, inputTokenBucketOf, type SegmentAggregate } from '../../optimizer/segment-aggregate.ts';

const policy = PolicySchema.parse({
  models: {
    big: { provider: 'openai', upstream: 'big', price: { input: 2, output: 8 } },
    mid: { provider: 'openai', upstream: 'mid', price: { input: 0.5, output: 2 } },
    other: { provider: 'anthropic', upstream: 'other', price: { input: 0.1, output: 0.5 } },
    pricey: { provider: 'openai', upstream: 'pricey', price: { input: 5, output: 20 } },
  },
  cost_centers: {
    open: { allowed_models: ['big', 'mid', 'other', 'pricey'], allowed_providers: ['openai'] },
    closed: { allowed_models: [] },
  },
});

function row(costCenter: string, requestedModel: string): SegmentAggregate {
  return { costCenter, requestedModel, servedModel: requestedModel, inputTokenBucket: 3, hour: 10, dayType: 'weekday', turns: 10, inputTokens: 50_000, cachedInputTokens: 0, outputTokens: 5_000, costUsd: 0.14, scoredTurns: 8, qualitySum: 6.4, qualitySquaredSum: 5.2 };
}

describe('search space', () => {
  it('pairs each requested model with allowed, allowed-provider, cheaper targets only', () => {
    const aggregates = [row('open', 'big'), row('closed', 'big')];
    expect(modelPairsFor('open', policy.cost_centers.open!, policy, aggregates)).toEqual([{ requestedModel: 'big', targetModel: 'mid' }]);
    // An empty allow-list allows nothing, as in the gateway.
    expect(modelPairsFor('closed', policy.cost_centers.closed!, policy, aggregates)).toEqual([]);
  });

  it('covers hour windows that wrap midnight and turns rules into schema-valid rules', () => {
    const night: RuleCandidate = { pairIndex: 0, thresholdIndex: 5, startHour: 22, lengthHours: 4, days: 'weekday' };
    expect([21, 22, 23, 0, 1, 2].map((hour) => candidateCovers(night, 2, hour, 'weekday'))).toEqual([false, true, true, true, true, false]);
    expect(candidateCovers(night, 2, 23, 'weekend')).toBe(false);
    expect(candidateCovers(night, 6, 23, 'weekday')).toBe(false);
    expect(hoursOf(night)).toEqual([22, 2]);
    expect(hoursOf({ ...night, startHour: 9, lengthHours: 15 })).toEqual([9, 24]);
    const rule = ruleOf(night, { requestedModel: 'big', targetModel: 'mid' }, 'open', 'r1', { proposalId: 'opt_x', dryRun: true });
    expect(RuleSchema.parse(rule)).toEqual(rule);
    expect(rule.when).toEqual({ requested_models: ['big'], input_tokens: { max: 8_000 }, hours: [22, 2], days: ['mon', 'tue', 'wed', 'thu', 'fri'] });
  });

  it('cuts buckets so that "input ≤ threshold" is a union of whole buckets', () => {
    for (const [index, edge] of INPUT_TOKEN_EDGES.entries()) {
      expect(inputTokenBucketOf(edge)).toBe(index);
      expect(inputTokenBucketOf(edge + 1)).toBe(index + 1);
    }
  });

  it('enumerates distinct candidates and neighbours that stay in range', () => {
    const all = enumerateCandidates(2);
    expect(new Set(all.map((candidate) => JSON.stringify(candidate))).size).toBe(all.length);
    for (const move of neighbours({ pairIndex: 0, thresholdIndex: 0, startHour: 0, lengthHours: 24, days: 'all' }, 2)) {
      expect(move.thresholdIndex).toBeGreaterThanOrEqual(0);
      expect(move.lengthHours).toBeGreaterThanOrEqual(1);
      expect(move.lengthHours).toBeLessThanOrEqual(24);
      expect(move.pairIndex).toBeLessThan(2);
    }
  });
});
