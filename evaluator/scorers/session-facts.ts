import { isFailedOutcome } from '../../shared/tool-signals/classify-tool-output.ts';
import type { SessionSnapshot, StoredCall, StoredOutcome } from '../session-state/session-state.ts';

export interface CallWithOutcome {
  call: StoredCall;
  outcome: StoredOutcome | undefined;
}

/** Calls in the order the model made them, each with its first result (if any). */
export function callsInOrder(snapshot: Pick<SessionSnapshot, 'calls' | 'outcomes'>): CallWithOutcome[] {
  return snapshot.calls.map((call) => ({ call, outcome: snapshot.outcomes.get(call.callId) }));
}

/** Failed results at the end of the session (calls without a result and running commands are skipped). */
export function trailingFailures(calls: readonly CallWithOutcome[]): number {
  let failed = 0;
  for (let index = calls.length - 1; index >= 0; index -= 1) {
    const outcome = calls[index]?.outcome;
    if (!outcome || outcome.status === 'running') continue;
    if (!isFailedOutcome(outcome.status)) break;
    failed += 1;
  }
  return failed;
}

/** The last test or build run after the last patch (or in the whole session when there is no patch). */
export function lastVerification(calls: readonly CallWithOutcome[]): { entry: CallWithOutcome | undefined; afterPatch: boolean; lastPatchIndex: number } {
  let lastPatchIndex = -1;
  calls.forEach((entry, index) => {
    if (entry.call.category === 'patch') lastPatchIndex = index;
  });
  let found: CallWithOutcome | undefined;
  for (let index = calls.length - 1; index > lastPatchIndex; index -= 1) {
    const entry = calls[index] as CallWithOutcome;
    if ((entry.call.category === 'test' || entry.call.category === 'build') && entry.outcome && entry.outcome.status !== 'running') {
      found = entry;
      break;
    }
  }
  return { entry: found, afterPatch: lastPatchIndex >= 0, lastPatchIndex };
}
