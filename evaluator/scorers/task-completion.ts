import { isFailedOutcome } from '../../shared/tool-signals/classify-tool-output.ts';
import type { StoredTurn } from '../session-state/session-state.ts';
import { clampScore, type SessionScorer } from './scorer.ts';
import { callsInOrder, lastVerification, trailingFailures } from './session-facts.ts';

/** Gateway refusals (CONTRACT error table) that end a session without any model work. */
const DENIALS = new Set(['model_not_allowed', 'provider_not_allowed', 'invalid_api_key', 'payload_too_large', 'invalid_request']);
const CAPS = new Set(['retry_limit_exceeded', 'budget_exhausted']);
/** Consecutive failed tool results that make "a loop of failing calls". */
export const FAILING_LOOP_LENGTH = 3;

function failedTurn(turn: StoredTurn): boolean {
  return turn.errorCode !== '' || turn.statusCode >= 400;
}

/**
 * How the session ended, graded:
 * | ending | value |
 * |---|---|
 * | final answer, last test/build (if any) passed, no failing streak | 1.0 |
 * | final answer right after 1–2 failed tool calls or a failed last test/build | 0.6 |
 * | final answer after a loop of ≥3 failing tool calls | 0.3 |
 * | abandoned: the last turn asked for tools whose results never came | 0.3 |
 * | abandoned in a loop of ≥3 failing tool calls | 0.2 |
 * | stopped by a cap (retry_limit_exceeded, budget_exhausted) | 0.1 |
 * | ended in an upstream/gateway error | 0.1 |
 * | denied by policy (model_not_allowed, provider_not_allowed, …) | 0.0 |
 */
export const taskCompletionScorer: SessionScorer = {
  name: 'task_completion',
  version: 1,
  appliesTo: 'session',
  score(snapshot) {
    const last = snapshot.turns[snapshot.turns.length - 1];
    if (!last) return null;
    const calls = callsInOrder(snapshot);
    const streak = Math.max(trailingFailures(calls), last.trailingFailedResults);
    const served = snapshot.turns.filter((turn) => !failedTurn(turn)).length;
    const context = `${snapshot.turns.length} turns, ${served} served, ${calls.length} tool calls`;
    if (failedTurn(last)) {
      const code = last.errorCode || `http_${last.statusCode}`;
      if (DENIALS.has(last.errorCode)) return { value: 0, reasons: [`denied by the gateway: ${code}`, context] };
      if (CAPS.has(last.errorCode))
        return {
          value: 0.1,
          reasons: [
            last.errorCode === 'retry_limit_exceeded' ? `stopped by the retry cap after ${streak} consecutive failed tool calls` : 'stopped by the budget cap',
            context,
          ],
        };
      return { value: 0.1, reasons: [`ended in an error: ${code} (${last.statusCode})`, context] };
    }
    if (last.finalAnswer) {
      const verify = lastVerification(calls).entry;
      const verifyFailed = verify !== undefined && isFailedOutcome(verify.outcome?.status ?? 'failure');
      if (streak >= FAILING_LOOP_LENGTH) return { value: 0.3, reasons: [`final answer after ${streak} consecutive failed tool calls`, context] };
      if (streak > 0) return { value: 0.6, reasons: [`final answer right after ${streak} failed tool call${streak === 1 ? '' : 's'}`, context] };
      if (verifyFailed) return { value: 0.6, reasons: [`final answer, but the last test/build (${verify.call.runner}) failed`, context] };
      return { value: clampScore(1), reasons: ['ended in a final answer', context] };
    }
    if (streak >= FAILING_LOOP_LENGTH) return { value: 0.2, reasons: [`abandoned in a loop of ${streak} failing tool calls`, context] };
    const pending = last.callIds.filter((id) => !snapshot.outcomes.has(id)).length;
    return {
      value: 0.3,
      reasons: [`abandoned: the last turn asked for ${last.callIds.length} tool call${last.callIds.length === 1 ? '' : 's'}, ${pending} without a result`, context],
    };
  },
};
