import { isFailedOutcome } from '../../shared/tool-signals/classify-tool-output.ts';
import { callLabel, clampScore, type SessionScorer } from './scorer.ts';
import { callsInOrder, lastVerification } from './session-facts.ts';

/**
 * Did the code changes land and hold? Half the score is the share of patches that applied, half is
 * the last test/build run after the last patch: passed 1, failed 0, none run 0.5 (unverified).
 * Sessions without patches are judged on their last test/build run alone; sessions with neither do
 * not get this score.
 */
export const codeCorrectnessScorer: SessionScorer = {
  name: 'code_correctness',
  version: 1,
  appliesTo: 'session',
  score(snapshot) {
    const calls = callsInOrder(snapshot);
    const patches = calls.filter((entry) => entry.call.category === 'patch');
    const verification = lastVerification(calls);
    if (patches.length === 0 && !verification.entry) return null;
    const reasons: string[] = [];
    const verify = verification.entry;
    const verifyPassed = verify ? !isFailedOutcome(verify.outcome?.status ?? 'failure') : undefined;
    const verifyText = verify
      ? `${verification.afterPatch ? 'last test/build after the last patch' : 'last test/build'} (${verify.call.runner || verify.call.category}) ${
          verifyPassed ? 'passed' : `failed${verify.outcome?.exitCode !== null && verify.outcome?.exitCode !== undefined ? ` with exit code ${verify.outcome.exitCode}` : ''}`
        }`
      : 'no test or build run after the last patch';
    if (patches.length === 0) {
      reasons.push('no patches', verifyText);
      return { value: verifyPassed ? 1 : 0, reasons };
    }
    const applied = patches.filter((entry) => entry.outcome && (entry.outcome.status === 'success' || entry.outcome.status === 'unknown'));
    reasons.push(`${applied.length} of ${patches.length} patches applied`);
    for (const entry of patches) {
      if (!entry.outcome) reasons.push(`${callLabel(entry.call)}: no result`);
      else if (isFailedOutcome(entry.outcome.status)) reasons.push(`${callLabel(entry.call)}: patch failed`);
      else if (entry.call.validity === 'invalid') reasons.push(`${callLabel(entry.call)}: patch did not parse (${entry.call.reason})`);
    }
    reasons.push(verifyText);
    const verifyScore = verifyPassed === undefined ? 0.5 : verifyPassed ? 1 : 0;
    return { value: clampScore(0.5 * (applied.length / patches.length) + 0.5 * verifyScore), reasons };
  },
};
