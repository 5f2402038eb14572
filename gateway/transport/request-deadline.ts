/** Raised as the abort reason when a request's total time runs out. */
export class DeadlineExceededError extends Error {
  readonly code = 'UND_ERR_TOTAL_TIMEOUT';
  constructor(totalMillis: number) {
    super(`upstream request exceeded its total time of ${totalMillis} ms`);
    this.name = 'TimeoutError';
  }
}

export interface RequestDeadline {
  signal: AbortSignal;
  /** True once the deadline (not the client) aborted the request. */
  readonly expired: boolean;
  /** Stops the timer and the link to the client's signal; call when the request is done. */
  dispose(): void;
}

/**
 * One AbortController that fires on the client's signal or after `totalMillis`, whichever comes
 * first. Cheaper on the hot path than `AbortSignal.any([signal, AbortSignal.timeout(ms)])`, which
 * keeps weak references and a finalization registry alive per request.
 */
export function requestDeadline(clientSignal: AbortSignal | undefined, totalMillis: number): RequestDeadline {
  const controller = new AbortController();
  let expired = false;
  const onClientAbort = () => controller.abort(clientSignal?.reason);
  if (clientSignal?.aborted) controller.abort(clientSignal.reason);
  else clientSignal?.addEventListener('abort', onClientAbort, { once: true });
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DeadlineExceededError(totalMillis));
  }, totalMillis);
  timer.unref();
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    dispose() {
      clearTimeout(timer);
      clientSignal?.removeEventListener('abort', onClientAbort);
    },
  };
}
