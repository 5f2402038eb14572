import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ExplorationBoard } from '../../shared/exploration/exploration-board.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';
import { deletePrefix, REDIS_URL, uniquePrefix, waitFor } from '../state/helpers/redis-helpers.ts';

const plan = (expiresAt: number, candidate = 'gpt-5.5->gpt-5.1-mini@low'): ExplorationPlan => ({ costCenter: 'platform', requestedModel: 'gpt-5.5', routeTo: 'gpt-5.1-mini', share: 0.02, candidate, reasoningEffort: 'low', expiresAt });

describe('exploration plans held in memory', () => {
  it('a plan past its expiresAt is void (the optimizer that published it stopped)', async () => {
    let now = 1_000_000;
    const board = await ExplorationBoard.open({ now: () => now });
    await board.publish('platform', plan(now + 5_000));
    expect(board.get('platform')?.candidate).toBe('gpt-5.5->gpt-5.1-mini@low');
    now += 4_999;
    expect(board.get('platform')).toBeDefined();
    now += 1;
    expect(board.get('platform')).toBeUndefined();
    expect(board.all()).toEqual([]);
  });
});

describe('exploration plans through Redis', () => {
  const prefix = uniquePrefix('exploration-board');
  const boards: ExplorationBoard[] = [];
  const clients: Redis[] = [];
  const client = () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    return redis;
  };
  const open = async () => {
    const board = await ExplorationBoard.open({ redis: client(), keyPrefix: prefix, costCenters: () => ['platform'], refreshMillis: 200 });
    boards.push(board);
    return board;
  };
  afterEach(async () => {
    await Promise.all(boards.splice(0).map((board) => board.close()));
    clients.splice(0).forEach((redis) => redis.disconnect());
    await deletePrefix(REDIS_URL, prefix);
  });

  it('every gateway holds what the optimizer publishes, until it expires or is withdrawn', async () => {
    const optimizer = await open();
    const [gatewayA, gatewayB] = [await open(), await open()];
    await optimizer.publish('platform', plan(Date.now() + 60_000));
    await waitFor(() => gatewayA.get('platform') !== undefined && gatewayB.get('platform') !== undefined);
    expect(gatewayA.get('platform')).toEqual(optimizer.get('platform'));
    expect(gatewayB.get('platform')).toEqual(optimizer.get('platform'));
    // The key expires with the plan: a gateway started later never reads a dead plan.
    const ttl = await client().pttl(optimizer.keyOf('platform'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // A gateway started after the publish reads the key when it opens.
    const late = await open();
    expect(late.get('platform')?.candidate).toBe('gpt-5.5->gpt-5.1-mini@low');

    await optimizer.publish('platform', undefined);
    await waitFor(() => gatewayA.get('platform') === undefined && gatewayB.get('platform') === undefined && late.get('platform') === undefined);
    expect(await client().exists(optimizer.keyOf('platform'))).toBe(0);
  });

  it('a notice missed while disconnected is made up by the periodic re-read', async () => {
    const gateway = await open();
    // Written to the key with no notice, as if the gateway had been cut off while it was published.
    await client().set(gateway.keyOf('platform'), JSON.stringify(plan(Date.now() + 60_000, 'missed')), 'PX', 60_000);
    await waitFor(() => gateway.get('platform')?.candidate === 'missed');
    // An unreadable value is reported, not applied.
    await client().set(gateway.keyOf('platform'), '{"costCenter":', 'PX', 60_000);
    await waitFor(() => gateway.get('platform') === undefined);
  });
});
