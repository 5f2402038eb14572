export { toolCallValidityScorer } from './tool-call-validity.ts';
export { toolUseAccuracyScorer } from './tool-use-accuracy.ts';
export { codeCorrectnessScorer } from './code-correctness.ts';
export { taskCompletionScorer, FAILING_LOOP_LENGTH } from './task-completion.ts';
export { createLlmJudgeScorer, summarizeSession, type LlmJudgeOptions } from './llm-judge.ts';
export type { Scorer, TurnScorer, SessionScorer, ScoreResult, TurnScoreInput, SessionScoreInput } from './scorer.ts';

import { toolCallValidityScorer } from './tool-call-validity.ts';
import { toolUseAccuracyScorer } from './tool-use-accuracy.ts';
import { codeCorrectnessScorer } from './code-correctness.ts';
import { taskCompletionScorer } from './task-completion.ts';
import type { Scorer } from './scorer.ts';

/** The scorers that run unless told otherwise. */
export const BUILTIN_SCORERS: readonly Scorer[] = Object.freeze([toolCallValidityScorer, toolUseAccuracyScorer, codeCorrectnessScorer, taskCompletionScorer]);
