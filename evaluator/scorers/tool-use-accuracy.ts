import { isFailedOutcome } from '../../shared/tool-signals/classify-tool-output.ts';
import { callLabel, clampScore, type TurnScorer } from './scorer.ts';

/**
 * Valid and successful calls over all calls of the turn. A call's result arrives with the next
 * request, so this is scored then (or at session end, where a call that never got a result counts
 * as unsuccessful). Results without an exit code or error marker (e.g. `view_image`) count as success;
 * a command still running counts as started successfully.
 */
export const toolUseAccuracyScorer: TurnScorer = {
  name: 'tool_use_accuracy',
  version: 1,
  appliesTo: 'turn',
  needs: 'outcomes',
  score({ calls, outcomes, sessionEnded }) {
    if (calls.length === 0) return null;
    let good = 0;
    const problems: string[] = [];
    for (const call of calls) {
      const outcome = outcomes.get(call.callId);
      if (call.validity === 'invalid') problems.push(`${callLabel(call)}: invalid call (${call.reason})`);
      else if (!outcome) problems.push(`${callLabel(call)}: no result${sessionEnded ? ' before the session ended' : ''}`);
      else if (isFailedOutcome(outcome.status))
        problems.push(`${callLabel(call)}: ${outcome.status}${outcome.exitCode !== null ? ` (exit code ${outcome.exitCode})` : ''}`);
      else good += 1;
    }
    return { value: clampScore(good / calls.length), reasons: [`${good} of ${calls.length} tool calls valid and successful`, ...problems] };
  },
};
