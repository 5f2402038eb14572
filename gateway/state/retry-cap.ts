import { GatewayError } from '../errors/gateway-error.ts';

/** Whether a session's tool-retry loop is over its cost center's `retry_cap`. */
export interface RetryCapDecision {
  exceeded: boolean;
  /** Consecutive failed tool results at the end of the resent history. */
  trailingFailures: number;
  retryCap: number;
}

/**
 * The retry cap needs no stored state: Codex resends the whole history each turn, so the
 * trailing failed tool results are counted from the request body itself
 * (`countTrailingFailedToolResults`, shared/tool-signals). The session is stopped when that
 * count *exceeds* `retry_cap` (CONTRACT.md): with the default 3, three failures in a row may be
 * retried, the fourth turn after them is refused. `retry_cap: 0` refuses the first retry.
 */
export function retryCapDecision(trailingFailures: number, retryCap: number): RetryCapDecision {
  return { exceeded: trailingFailures > retryCap, trailingFailures, retryCap };
}

/** The 429 `retry_limit_exceeded` error for a decision that exceeded the cap. */
export function retryLimitError(decision: RetryCapDecision, context: { costCenter: string; model?: string | undefined }): GatewayError {
  return new GatewayError('retry_limit_exceeded', {
    message:
      `gatehouse: the last ${decision.trailingFailures} tool calls of this session failed in a row, over the retry cap of ` +
      `${decision.retryCap} for cost center ${context.costCenter}; look at the failing command, then continue with new instructions`,
    costCenter: context.costCenter,
    ...(context.model === undefined ? {} : { model: context.model }),
  });
}
