import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { SpanStatusCode, TraceFlags, type Link } from '@opentelemetry/api';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import { BullmqJobQueue } from '../shared/queue/bullmq-job-queue.ts';
import type { JobQueue, JobWorker, QueueCounts } from '../shared/queue/job-queue.ts';
import { MemoryJobQueue, type MemoryQueueSnapshot } from '../shared/queue/memory-job-queue.ts';
import { createEvaluatorTracing } from './evaluator-tracing.ts';
import { EVALUATOR_QUEUE, SCORE_SESSION_JOB, SCORE_TURN_JOB } from '../shared/queue/queue-names.ts';
import { PermanentEvaluationError } from '../shared/queue/evaluation-errors.ts';
import type { TurnRecord } from '../shared/telemetry/turn-record.ts';
import { extractTurnSignals, type TurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import { HistoryMarks } from './history-marks.ts';
import { processSessionJob, type SessionJobData, type SessionJobResult } from './process-session-job.ts';
import { processTurnJob, type EvaluatorRuntime, type TurnJobResult } from './process-turn-job.ts';
import type { ScoreSink } from './score-rows.ts';
import { BUILTIN_SCORERS, createLlmJudgeScorer, type LlmJudgeOptions } from './scorers/index.ts';
import type { Scorer, SessionScorer, TurnScorer } from './scorers/scorer.ts';
import { MemoryHashStore, RedisHashStore, type HashStore, type MemoryHashSnapshot } from './session-state/hash-store.ts';
import { SessionState } from './session-state/session-state.ts';

export type EvaluatorJobData = TurnSignals | SessionJobData;
export type EvaluatorJobResult = TurnJobResult | SessionJobResult;

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

/** BullMQ ids cannot contain `:`. */
function jobIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function traceparentOf(signals: TurnSignals): string | undefined {
  return /^[0-9a-f]{32}$/.test(signals.traceId) && /^[0-9a-f]{16}$/.test(signals.spanId) ? `00-${signals.traceId}-${signals.spanId}-01` : undefined;
}

function linksOf(traceparent: string | undefined): Link[] {
  const match = traceparent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent) : null;
  if (!match) return [];
  return [{ context: { traceId: match[1] as string, spanId: match[2] as string, traceFlags: Number.parseInt(match[3] as string, 16) & TraceFlags.SAMPLED, isRemote: true } }];
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
 * and scorer-set version) and pushes the session's delayed completion job forward.
 */
export async function startEvaluator(options: StartEvaluatorOptions): Promise<Evaluator> {
  const distributed = options.redis !== undefined;
  const queueName = options.queueName ?? EVALUATOR_QUEUE;
  const sessionIdleMillis = Math.round((options.sessionIdleSeconds ?? 600) * 1000);
  const scorers = [...(options.scorers ?? BUILTIN_SCORERS)];
  if (options.llmJudge && !scorers.some((scorer) => scorer.name === 'llm_judge')) scorers.push(createLlmJudgeScorer(options.llmJudge));
  const onError = options.onError ?? (() => {});
  const { queue, store, embedded } = openQueueAndState(options.redis, queueName);
  const stateFile = embedded ? options.stateFile : undefined;
  const saved = embedded && stateFile ? readSavedState(stateFile, onError) : undefined;
  if (embedded && saved) {
    embedded.store.restore(saved.state);
    embedded.queue.restore(saved.queue);
  }
  const runtime: EvaluatorRuntime = {
    state: new SessionState(store, Math.max((options.stateTtlSeconds ?? 86_400) * 1000, sessionIdleMillis * 3)),
    sink: options.sink,
    turnScorers: scorers.filter((scorer): scorer is TurnScorer => scorer.appliesTo === 'turn'),
    sessionScorers: scorers.filter((scorer): scorer is SessionScorer => scorer.appliesTo === 'session'),
    sessionIdleMillis,
    deferLimitMillis: options.deferLimitMillis ?? 10_000,
    deferDelayMillis: 200,
    now: () => Date.now(),
  };
  const version = scorerSetVersion(scorers);
  let worker: JobWorker | undefined;
  const canProcess = distributed || (options.runWorkers ?? true);
  if (options.runWorkers ?? true) {
    const { tracer } = createEvaluatorTracing(options.sink);
    worker = queue.startWorker(
      (job) =>
        // The evaluation span links back to the request span whose traceparent rode in the job options.
        tracer.startActiveSpan(`evaluate ${job.name}`, { links: linksOf(job.traceparent), attributes: { 'gatehouse.job_id': job.id } }, async (span) => {
          try {
            if (job.name === SCORE_TURN_JOB) return await processTurnJob(job.data, runtime, job.id);
            if (job.name === SCORE_SESSION_JOB) return await processSessionJob(job.data, runtime, job.id);
            throw new PermanentEvaluationError(`unknown job name ${job.name}`);
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
            throw error;
          } finally {
            span.end();
          }
        }),
      {
        concurrency: options.concurrency ?? 4,
        ...(options.lockDurationMillis !== undefined ? { lockDurationMillis: options.lockDurationMillis } : {}),
        ...(options.stalledIntervalMillis !== undefined ? { stalledIntervalMillis: options.stalledIntervalMillis } : {}),
      },
    );
  }

  const local = { turnsHandled: 0, enqueueErrors: 0, extractErrors: 0, droppedTurns: 0 };
  // While Redis is away BullMQ's adds wait for the reconnect; this bounds what the gateway holds meanwhile.
  const maxPendingEnqueues = options.maxPendingEnqueues ?? 10_000;
  let counts: QueueCounts = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
  const pending = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>, context: string) => {
    const tracked = promise.catch((error: unknown) => {
      local.enqueueErrors += 1;
      onError(error, context);
    });
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  };
  const snapshot = (): EvaluatorMetrics => {
    const counters = queue.counters();
    return {
      mode: distributed ? 'distributed' : 'embedded',
      depth: counts.waiting + counts.active + counts.delayed,
      waiting: counts.waiting,
      active: counts.active,
      delayed: counts.delayed,
      failedKept: counts.failed,
      ...local,
      processed: counters.processed,
      failures: counters.failures,
      retries: counters.retries,
      deferrals: counters.deferrals,
      lagMillis: counters.lastLagMillis,
      maxLagMillis: counters.maxLagMillis,
      meanLagMillis: counters.meanLagMillis,
    };
  };
  const refreshMetrics = async () => {
    counts = await queue.counts();
    return snapshot();
  };
  const refresher = setInterval(() => void refreshMetrics().catch(() => {}), 1000);
  refresher.unref();
  let closed = false;
  // A session's earlier results were extracted by its earlier turns: each turn reads only what it adds.
  const marks = new HistoryMarks();

  return {
    handleTurn(record: TurnRecord): void {
      // Embedded mode without workers in this process: nobody could ever take the jobs.
      if (closed || !canProcess) return;
      let signals: TurnSignals;
      let resume: ReturnType<HistoryMarks['resume']>;
      try {
        resume = marks.resume(record);
        signals = extractTurnSignals(record, Date.now(), resume.fromItem);
      } catch (error) {
        local.extractErrors += 1;
        onError(error, 'extract');
        return;
      }
      if (pending.size >= maxPendingEnqueues) {
        local.droppedTurns += 1;
        return;
      }
      local.turnsHandled += 1;
      const traceparent = traceparentOf(signals);
      const mark = resume.mark;
      track(
        queue
          .add(SCORE_TURN_JOB, signals, {
            jobId: `turn.${jobIdPart(signals.requestId)}.${version}`,
            attempts: 5,
            backoff: { type: 'exponential', delayMillis: 500 },
            ...(traceparent ? { traceparent } : {}),
          })
          .then(() => mark && marks.remember(mark)),
        'enqueue-turn',
      );
      if (signals.sessionId === '') return;
      const sessionData: SessionJobData = {
        sessionId: signals.sessionId,
        lastRequestId: signals.requestId,
        lastTurnSeq: signals.turnSeq,
        lastHandledAtMillis: signals.handledAtMillis,
      };
      track(
        queue.add(SCORE_SESSION_JOB, sessionData, {
          delayMillis: sessionIdleMillis,
          attempts: 5,
          backoff: { type: 'exponential', delayMillis: 1000 },
          // Debounce: a still-delayed completion job is replaced (new data, new delay); one that is
          // running gets a successor once it finishes.
          deduplication: { id: `session.${jobIdPart(signals.sessionId)}`, replace: true, keepLastIfActive: true },
        }),
        'enqueue-session',
      );
    },
    metrics: snapshot,
    refreshMetrics,
    async flushEnqueues() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(refresher);
      // Enqueues still waiting for an unreachable Redis are given up after a grace period.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, options.closeGraceMillis ?? 5_000).unref());
      await Promise.race([grace, (async () => {
        while (pending.size > 0) await Promise.all([...pending]);
      })()]);
      await worker?.close();
      await queue.close();
      if (embedded && stateFile) saveState(stateFile, { queue: embedded.queue.snapshot(), state: embedded.store.snapshot() }, onError);
      await store.close();
    },
  };
}

/** BullMQ and Redis-held session state in distributed mode; in embedded mode in-process ones, returned as `embedded` too (they can be saved and restored). */
function openQueueAndState(redis: StartEvaluatorOptions['redis'], queueName: string) {
  if (redis) {
    const queue: JobQueue<EvaluatorJobData, EvaluatorJobResult> = new BullmqJobQueue({ name: queueName, redisUrl: redis.url, prefix: redis.prefix ?? 'gatehouse' });
    const store: HashStore = new RedisHashStore(redis.url, `${redis.prefix ?? 'gatehouse'}:${queueName}:state:`);
    return { queue, store, embedded: undefined };
  }
  const embedded = { queue: new MemoryJobQueue<EvaluatorJobData, EvaluatorJobResult>({ name: queueName }), store: new MemoryHashStore() };
  return { queue: embedded.queue as JobQueue<EvaluatorJobData, EvaluatorJobResult>, store: embedded.store as HashStore, embedded };
}

/** What an embedded evaluator saves on close (`stateFile`). */
interface SavedEvaluatorState {
  queue: MemoryQueueSnapshot<EvaluatorJobData>;
  state: MemoryHashSnapshot;
}

function readSavedState(file: string, onError: (error: unknown, context: string) => void): SavedEvaluatorState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedEvaluatorState;
    // Read once: a second start must not run the same jobs again.
    rmSync(file, { force: true });
    return saved;
  } catch (error) {
    onError(error, 'restore-state');
    return undefined;
  }
}

function saveState(file: string, saved: SavedEvaluatorState, onError: (error: unknown, context: string) => void): void {
  if (saved.queue.jobs.length === 0 && saved.state.length === 0) return;
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(saved));
    renameSync(`${file}.tmp`, file);
  } catch (error) {
    onError(error, 'save-state');
  }
}
