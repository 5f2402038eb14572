import { GatewayError } from '../errors/gateway-error.ts';
import type { ReserveDenied } from './budget-ledger.ts';

const KIND_WORDS = { developer: 'developer', cost_center: 'cost center', key: 'key' } as const;

/**
 * Dollars with enough digits to be true: cents from $0.10 up, two significant digits below
 * (`$0.0002 spent of $0.0001`, never `$0.02 spent of $0.00` for a sub-cent budget).
 */
export function usd(value: number): string {
  if (value === 0 || Math.abs(value) >= 0.1) return `$${value.toFixed(2)}`;
  const precise = value.toPrecision(2);
  const [whole, fraction = ''] = (precise.includes('e') ? value.toFixed(Math.min(20, 1 - Math.floor(Math.log10(Math.abs(value))))) : precise).split('.');
  return `$${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

/**
 * The 429 `budget_exhausted` error for a denied reserve, worded for a developer's terminal: which
 * budget, how much is spent, the pause line, and when it resets (in the cost center's zone).
 * No Retry-After: Codex CLI would wait on a long one (docs: CODEX-CLI.md).
 */
export function budgetExhaustedError(denial: ReserveDenied, context: { costCenter: string; model?: string | undefined; pause: number }): GatewayError {
  const scope = denial.scope;
  const resets = new Intl.DateTimeFormat('en-GB', {
    timeZone: scope.timeZone,
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).format(scope.resetsAt);
  const used = denial.spendUsd + denial.reservedUsd;
  const who = scope.kind === 'cost_center' ? `cost center ${scope.subject}` : `${KIND_WORDS[scope.kind]} ${scope.subject} (cost center ${context.costCenter})`;
  const inFlight = denial.reservedUsd > 0 ? ` plus ${usd(denial.reservedUsd)} in flight` : '';
  return new GatewayError('budget_exhausted', {
    message:
      `gatehouse: the ${scope.period} budget of ${who} is exhausted: ${usd(denial.spendUsd)} spent${inFlight} of ${usd(denial.limitUsd)} ` +
      `(requests pause at ${Math.round(context.pause * 100)}%${used < context.pause * denial.limitUsd ? ', and this request could cross it' : ''}); it resets ${resets}` +
      // Below the line, what refused it is the reservation: the request's input and the most output it may produce.
      (used < context.pause * denial.limitUsd ? '. A request reserves its input and the most output it may produce: a smaller max_output_tokens reserves less' : ''),
    costCenter: context.costCenter,
    ...(context.model === undefined ? {} : { model: context.model }),
  });
}
