/**
 * Sticky session affinity: once a session was served by a fallback target, its next turns go
 * there directly for `affinity_seconds` (so the upstream prompt cache keeps hitting and the
 * conversation does not flip between models). Keyed by session and *requested* model.
 */
export interface AffinityStore {
  /** The served model stored for (session, requested model), or undefined. */
  get(sessionId: string, requestedModel: string): Promise<string | undefined> | string | undefined;
  /** Stores the served model for `ttlSeconds` (0 or less removes the entry). Never throws. */
  set(sessionId: string, requestedModel: string, servedModel: string, ttlSeconds: number): Promise<void> | void;
  close?(): Promise<void>;
}

/**
 * The key under which an affinity is stored; pass it as `affinityKey` to `BudgetLedger.reserve`
 * to read the affinity in the same atomic step (one Redis round trip in distributed mode).
 */
export function affinityKeyFor(sessionId: string, requestedModel: string): string {
  return `${sessionId}\u001f${requestedModel}`;
}
