import { createHash } from 'node:crypto';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import { EVALUATOR_QUEUE } from '../shared/queue/queue-names.ts';
import type { TurnRecord } from '../shared/telemetry/turn-record.ts';
import { extractTurnSignals, type TurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import type { EvaluatorRuntime } from './process-turn-job.ts';
import type { ScoreSink } from './score-rows.ts';
import { BUILTIN_SCORERS, createLlmJudgeScorer, type LlmJudgeOptions } from './scorers/index.ts';
import type { Scorer, SessionScorer, TurnScorer } from './scorers/scorer.ts';
import type { HashStore } from './session-state/hash-store.ts';
import { SessionState } from './session-state/session-state.ts';
import { HistoryMarks, type HistoryMark } from './history-marks.ts';
import { openQueueAndState, restoreSavedState, saveState } from './evaluator-queue.ts';
import { startEvaluationWorker } from './evaluation-worker.ts';
import { enqueueTurnJobs } from './enqueue-turn-jobs.ts';
import { PendingEnqueues } from './pending-enqueues.ts';
import { EvaluatorMetricsReader, type EvaluatorMetrics, type HandledTurnCounters } from './evaluator-metrics.ts';

export type { EvaluatorJobData, EvaluatorJobResult } from './evaluator-queue.ts';
export type { EvaluatorMetrics } from './evaluator-metrics.ts';

export interface StartEvaluatorOptions {
  /** Where `eval_scores` and `tool_calls` rows go: the role's `BatchWriter`. */
  sink: ScoreSink;
  /** Distributed mode: BullMQ and session state on this Redis. Absent = embedded (in-process queue and state). */
  redis?: { url: string; /** @defaultValue gatehouse */ prefix?: string } | undefined;
  /** @defaultValue gatehouse-evaluator */
  queueName?: string;
  /** A session with no new turn for this long is finished and scored. @defaultValue 600 */
  sessionIdleSeconds?: number;
  /** Jobs processed in parallel by this process's worker. @defaultValue 4 */
  concurrency?: number;
  /** Run workers in this process. The gateway role in distributed mode sets false; `gatehouse evaluator` true. @defaultValue true */
  runWorkers?: boolean;
  /** Scorers to run. @defaultValue BUILTIN_SCORERS (+ llm_judge when `llmJudge` is given) */
  scorers?: readonly Scorer[];
  /** Optional LLM judge through the gateway; off when absent. */
  llmJudge?: LlmJudgeOptions | undefined;
  /** How long session state is kept after its last write. @defaultValue 86400 */
  stateTtlSeconds?: number;
  /** BullMQ: a job whose worker died is retried after this lock expires. @defaultValue 30000 */
  lockDurationMillis?: number;
  /** BullMQ: stalled-job check interval. @defaultValue 30000 */
  stalledIntervalMillis?: number;
  /** Longest a session job waits for its last turn to be recorded before scoring without it. @defaultValue 10000 */
  deferLimitMillis?: number;
  /** Enqueues in flight before `handleTurn` drops turns (counted as `droppedTurns`). @defaultValue 10000 */
  maxPendingEnqueues?: number;
  /** How long `close()` waits for enqueues in flight. @defaultValue 5000 */
  closeGraceMillis?: number;
  /**
   * Embedded mode: where queued evaluations and session state are saved on `close()` and read back
   * (then deleted) at the next start, so a graceful restart loses none. A crash still loses them;
   * distributed mode keeps both in Redis.
   */
  stateFile?: string | undefined;
  /** Called for enqueue and extraction failures (never thrown into the gateway). */
  onError?: (error: unknown, context: string) => void;
}

export interface Evaluator {
  /** Hands a finished turn over: extracts signals and enqueues; never throws, never blocks. */
  handleTurn(record: TurnRecord): void;
  /** Last known numbers (queue counts refresh every second). */
  metrics(): EvaluatorMetrics;
  /** Fresh numbers (asks the queue now). */
  refreshMetrics(): Promise<EvaluatorMetrics>;
  /** Resolves when every enqueue started by `handleTurn` so far has settled. */
  flushEnqueues(): Promise<void>;
  close(): Promise<void>;
}

/** Version tag of a scorer set, part of turn job ids: a new scorer version re-scores resent turns. */
export function scorerSetVersion(scorers: readonly Scorer[]): string {
  const text = scorers
    .map((scorer) => `${scorer.name}@${scorer.version}`)
    .sort()
    .join(',');
  return createHash('sha1').update(text).digest('hex').slice(0, 10);
}

/**
 * Options from the deployment config (`redis.url`, `evaluator.*`). The LLM judge runs when
 * `evaluator.llm_judge.enabled` and a model are set and a virtual key for it is in
 * `GATEHOUSE_JUDGE_KEY`; it calls this deployment's own gateway (`GATEHOUSE_JUDGE_URL`, default the
 * configured server address).
 */
export function evaluatorOptionsFromConfig(config: DeploymentConfig, sink: ScoreSink, runWorkers = true, environment: NodeJS.ProcessEnv = process.env): StartEvaluatorOptions {
  const judge = config.evaluator.llm_judge;
  const judgeKey = environment.GATEHOUSE_JUDGE_KEY;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return {
    sink,
    redis: config.redis.url ? { url: config.redis.url, prefix: `${config.redis.key_prefix}bull` } : undefined,
    sessionIdleSeconds: config.evaluator.session_idle_seconds,
    concurrency: config.evaluator.concurrency,
    runWorkers,
    llmJudge:
      judge?.enabled && judge.model && judgeKey
        ? { gatewayUrl: environment.GATEHOUSE_JUDGE_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`, apiKey: judgeKey, model: judge.model }
        : undefined,
  };
}

/**
 * Starts the evaluator: in embedded mode an in-process queue and state, in distributed mode BullMQ
 * and Redis (the same processors either way). `handleTurn` enqueues a turn job (id from request id
 * and scorer-set version) and pushes the session's delayed completion job forward. The parts:
 * evaluator-queue.ts (queue and state, saved over a graceful restart), evaluation-worker.ts,
 * enqueue-turn-jobs.ts, pending-enqueues.ts, evaluator-metrics.ts.
 */
export async function startEvaluator(options: StartEvaluatorOptions): Promise<Evaluator> {
  const distributed = options.redis !== undefined;
  const sessionIdleMillis = Math.round((options.sessionIdleSeconds ?? 600) * 1000);
  const scorers = scorersOf(options);
  const onError = options.onError ?? (() => {});
  const { queue, store, embedded } = await openQueueAndState(options.redis, options.queueName ?? EVALUATOR_QUEUE);
  const stateFile = embedded ? options.stateFile : undefined;
  restoreSavedState(embedded, stateFile, onError);
  const runtime = evaluatorRuntime(options, store, scorers, sessionIdleMillis);
  const worker = (options.runWorkers ?? true) ? startEvaluationWorker(queue, runtime, options) : undefined;
  // Embedded mode without workers in this process: nobody could ever take the jobs.
  const canProcess = distributed || (options.runWorkers ?? true);
  const local: HandledTurnCounters = { turnsHandled: 0, enqueueErrors: 0, extractErrors: 0, droppedTurns: 0 };
  const enqueues = new PendingEnqueues((error, context) => {
    local.enqueueErrors += 1;
    onError(error, context);
  });
  const metrics = new EvaluatorMetricsReader(queue, distributed ? 'distributed' : 'embedded', local);
  const turnSetting = { scorerSetVersion: scorerSetVersion(scorers), sessionIdleMillis };
  // While Redis is away BullMQ's adds wait for the reconnect; this bounds what the gateway holds meanwhile.
  const maxPendingEnqueues = options.maxPendingEnqueues ?? 10_000;
  let closed = false;
  // A session's earlier results were extracted by its earlier turns: each turn reads only what it adds.
  const marks = new HistoryMarks();
  return {
    handleTurn(record: TurnRecord): void {
      if (closed || !canProcess) return;
      const extracted = extractOrCount(record, marks, local, onError);
      if (!extracted) return;
      if (enqueues.size >= maxPendingEnqueues) {
        local.droppedTurns += 1;
        return;
      }
      local.turnsHandled += 1;
      const { signals, mark } = extracted;
      // The mark is kept once the turn job is queued: a turn that never reached the queue is read again next time.
      const onTurnQueued = mark ? () => marks.remember(mark) : undefined;
      enqueueTurnJobs(queue, signals, { ...turnSetting, onTurnQueued }, (promise, context) => enqueues.track(promise, context));
    },
    metrics: () => metrics.snapshot(),
    refreshMetrics: () => metrics.refresh(),
    flushEnqueues: () => enqueues.flush(),
    async close() {
      if (closed) return;
      closed = true;
      metrics.stop();
      await enqueues.flushWithin(options.closeGraceMillis ?? 5_000);
      await worker?.close();
      await queue.close();
      saveState(embedded, stateFile, onError);
      await store.close();
    },
  };
}

/** The configured scorers, plus the LLM judge when one is configured and not among them. */
function scorersOf(options: StartEvaluatorOptions): Scorer[] {
  const scorers = [...(options.scorers ?? BUILTIN_SCORERS)];
  if (options.llmJudge && !scorers.some((scorer) => scorer.name === 'llm_judge')) scorers.push(createLlmJudgeScorer(options.llmJudge));
  return scorers;
}

function evaluatorRuntime(options: StartEvaluatorOptions, store: HashStore, scorers: readonly Scorer[], sessionIdleMillis: number): EvaluatorRuntime {
  return {
    // Session state outlives three idle periods at least: a session job may be deferred while turns arrive late.
    state: new SessionState(store, Math.max((options.stateTtlSeconds ?? 86_400) * 1000, sessionIdleMillis * 3)),
    sink: options.sink,
    turnScorers: scorers.filter((scorer): scorer is TurnScorer => scorer.appliesTo === 'turn'),
    sessionScorers: scorers.filter((scorer): scorer is SessionScorer => scorer.appliesTo === 'session'),
    sessionIdleMillis,
    deferLimitMillis: options.deferLimitMillis ?? 10_000,
    deferDelayMillis: 200,
    now: () => Date.now(),
  };
}

/**
 * The turn's signals, read from where the session's last queued turn left off, and the mark to keep
 * once this one is queued; an extraction failure is counted and reported, never thrown into the gateway.
 */
function extractOrCount(
  record: TurnRecord,
  marks: HistoryMarks,
  local: HandledTurnCounters,
  onError: (error: unknown, context: string) => void,
): { signals: TurnSignals; mark: HistoryMark | undefined } | undefined {
  try {
    const resume = marks.resume(record);
    return { signals: extractTurnSignals(record, Date.now(), resume.fromItem), mark: resume.mark };
  } catch (error) {
    local.extractErrors += 1;
    onError(error, 'extract');
    return undefined;
  }
}
