import type { RunningGatehouse } from '../cli/start-gatehouse.ts';

/**
 * Experiments only: switches parts of the request path off to measure what each costs
 * (`DISABLE=tracing,budgets,metrics,storage`; any other name unsets that context member).
 */
export function disableParts(gatehouse: RunningGatehouse, parts: string | undefined): void {
  for (const part of (parts ?? '').split(',').filter(Boolean)) {
    const context = gatehouse.context as unknown as Record<string, unknown>;
    if (part === 'tracing') context.tracing = { recordTurn: () => ({ traceId: '', spanId: '' }), forceFlush: async () => {}, shutdown: async () => {} };
    else if (part === 'metrics') {
      const noop = { inc() {}, observe() {} };
      Object.assign(gatehouse.context.metrics, { recordTurn() {}, denials: noop, ttfb: noop, upstreamErrors: noop, hops: noop });
    } else if (part === 'storage') (gatehouse.writer as unknown as { write: () => void }).write = () => {};
    else context[part] = undefined;
  }
}
