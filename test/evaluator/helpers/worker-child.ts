// A real evaluator worker in its own process, for the kill -9 test. Rows it would write go to
// stdout as `ROW <json>`; a `stall` scorer announces `ACTIVE <request id>` and never returns.
import { startEvaluator } from '../../../evaluator/start-evaluator.ts';
import { BUILTIN_SCORERS } from '../../../evaluator/scorers/index.ts';
import type { TurnScorer } from '../../../evaluator/scorers/scorer.ts';

const stall: TurnScorer = {
  name: 'stall',
  version: 1,
  appliesTo: 'turn',
  needs: 'turn',
  score({ turn }) {
    process.stdout.write(`ACTIVE ${turn.requestId}\n`);
    return new Promise(() => {});
  },
};

await startEvaluator({
  sink: { write: (table, rows) => rows.forEach((row) => process.stdout.write(`ROW ${JSON.stringify({ table, row })}\n`)) },
  redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: process.env.QUEUE_PREFIX ?? 'gatehouse-test' },
  sessionIdleSeconds: 60,
  scorers: [...BUILTIN_SCORERS, stall],
  lockDurationMillis: 1000,
  stalledIntervalMillis: 500,
  concurrency: 1,
});
process.stdout.write('READY\n');
