import type { QueueCounts } from '../shared/queue/job-queue.ts';
import type { EvaluatorQueue } from './evaluator-queue.ts';

/** Numbers for `/metrics`: queue depth, lag, failures. */
export interface EvaluatorMetrics {
  mode: 'embedded' | 'distributed';
  depth: number;
  waiting: number;
  active: number;
  delayed: number;
  failedKept: number;
  turnsHandled: number;
  enqueueErrors: number;
  extractErrors: number;
  /** Turns not enqueued because too many enqueues were already waiting (queue store unreachable). */
  droppedTurns: number;
  processed: number;
  failures: number;
  retries: number;
  deferrals: number;
  lagMillis: number;
  maxLagMillis: number;
  meanLagMillis: number;
}

/** What handleTurn counts in this process. */
export interface HandledTurnCounters {
  turnsHandled: number;
  enqueueErrors: number;
  extractErrors: number;
  droppedTurns: number;
}

/** Queue counts asked every second (asking on every /metrics scrape would cost a Redis round trip each), plus this process's counters. */
export class EvaluatorMetricsReader {
  private readonly queue: EvaluatorQueue;
  private readonly mode: EvaluatorMetrics['mode'];
  private readonly local: HandledTurnCounters;
  private counts: QueueCounts = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
  private readonly refresher: NodeJS.Timeout;

  constructor(queue: EvaluatorQueue, mode: EvaluatorMetrics['mode'], local: HandledTurnCounters) {
    this.queue = queue;
    this.mode = mode;
    this.local = local;
    this.refresher = setInterval(() => void this.refresh().catch(() => {}), 1000);
    this.refresher.unref();
  }

  /** Last known numbers. */
  snapshot(): EvaluatorMetrics {
    const counts = this.counts;
    const counters = this.queue.counters();
    return {
      mode: this.mode,
      depth: counts.waiting + counts.active + counts.delayed,
      waiting: counts.waiting,
      active: counts.active,
      delayed: counts.delayed,
      failedKept: counts.failed,
      ...this.local,
      processed: counters.processed,
      failures: counters.failures,
      retries: counters.retries,
      deferrals: counters.deferrals,
      lagMillis: counters.lastLagMillis,
      maxLagMillis: counters.maxLagMillis,
      meanLagMillis: counters.meanLagMillis,
    };
  }

  /** Asks the queue now. */
  async refresh(): Promise<EvaluatorMetrics> {
    this.counts = await this.queue.counts();
    return this.snapshot();
  }

  stop(): void {
    clearInterval(this.refresher);
  }
}
