/**
 * Thrown by a job processor when retrying cannot help (malformed job data, a scorer bug on this
 * input): the job fails at once and is kept among failed jobs. Maps to BullMQ's `UnrecoverableError`.
 */
export class PermanentEvaluationError extends Error {
  override readonly name = 'PermanentEvaluationError';
}

/**
 * Thrown when a job cannot be evaluated yet (the turn that made a call is not recorded, the session
 * is not idle): the job goes back to delayed for `delayMillis` without using up an attempt. Maps to
 * BullMQ's `moveToDelayed` + `DelayedError`.
 */
export class EvaluationDeferredError extends Error {
  override readonly name = 'EvaluationDeferredError';
  readonly delayMillis: number;
  constructor(message: string, delayMillis: number) {
    super(message);
    this.delayMillis = Math.max(1, Math.round(delayMillis));
  }
}
