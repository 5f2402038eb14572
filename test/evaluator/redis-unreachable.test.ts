import { describe, expect, it } from 'vitest';
import { startEvaluator } from '../../evaluator/start-evaluator.ts';
import { scenarioSessions } from './helpers/codex-sessions.ts';
import { RecordingSink } from './helpers/recording-sink.ts';

describe('distributed mode with Redis unreachable', () => {
  it('handleTurn never throws or blocks, holds a bounded number of enqueues, and close() returns', async () => {
    const evaluator = await startEvaluator({
      sink: new RecordingSink(),
      redis: { url: 'redis://127.0.0.1:1', prefix: 'gatehouse-test-unreachable' },
      runWorkers: false,
      maxPendingEnqueues: 4,
      closeGraceMillis: 300,
    });
    const records = scenarioSessions('offline').failingTests;
    const started = performance.now();
    for (const record of records) evaluator.handleTurn(record);
    expect(performance.now() - started).toBeLessThan(200);
    // Each turn starts two enqueues (turn + session job): two turns fill the bound.
    expect(evaluator.metrics()).toMatchObject({ turnsHandled: 2, droppedTurns: 3 });
    const closing = performance.now();
    await evaluator.close();
    expect(performance.now() - closing).toBeLessThan(5000);
  });
});
