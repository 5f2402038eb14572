export {
  startEvaluator,
  evaluatorOptionsFromConfig,
  scorerSetVersion,
  type Evaluator,
  type EvaluatorMetrics,
  type StartEvaluatorOptions,
  type EvaluatorJobData,
  type EvaluatorJobResult,
} from './start-evaluator.ts';
export { EVAL_SCORES_TABLE, TOOL_CALLS_TABLE, type ScoreSink, type EvalScoreRow } from './score-rows.ts';
export { PermanentEvaluationError, EvaluationDeferredError } from '../shared/queue/evaluation-errors.ts';
export * from './scorers/index.ts';
export type { SessionJobData } from './process-session-job.ts';
