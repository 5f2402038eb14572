import { classifyToolOutput, isFailedOutcome } from './classify-tool-output.ts';
import { visitHistoryBackwards } from './read-history.ts';

/**
 * Consecutive failed tool results at the end of a request's history (Responses `input`, Chat or
 * Anthropic `messages`). The gateway's retry cap calls this on the request path (429
 * `retry_limit_exceeded` when the count exceeds `retry_cap`), so it scans from the end and stops at
 * the first thing that ends a failure streak:
 * - a successful result (or one without any failure marker) resets the streak;
 * - a message a person wrote resets it too: after a cap the developer must be able to steer the
 *   session ("try another approach") without being refused forever;
 * - calls, assistant text and still-running commands (`Process running with session ID`) are skipped.
 */
export function countTrailingFailedToolResults(body: Record<string, unknown>): number {
  let failed = 0;
  visitHistoryBackwards(body, (entry) => {
    if (entry.type === 'user') return false;
    if (entry.type !== 'result') return true;
    const outcome = classifyToolOutput(entry.output, entry.isError);
    if (outcome.status === 'running') return true;
    if (!isFailedOutcome(outcome.status)) return false;
    failed += 1;
    return true;
  });
  return failed;
}
