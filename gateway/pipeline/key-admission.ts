import type { CostCenter } from '../../shared/policy/policy-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { RateLimiter, RateReservation, RateScope } from '../state/rate-limiter.ts';
import type { VirtualKey } from '../state/key-store.ts';

/** The rate scopes a request of this key counts against: its own limits (else the cost center's per-key ones) and the cost center's. */
export function rateScopesOf(key: VirtualKey, center: CostCenter): RateScope[] {
  const scopes: RateScope[] = [];
  const perKey = { rpm: key.limits?.rpm ?? center.limits?.rpm, tpm: key.limits?.tpm ?? center.limits?.tpm };
  if (perKey.rpm !== undefined || perKey.tpm !== undefined) scopes.push({ id: `key:${key.id}`, label: `developer ${key.developer}'s key ${key.id}`, limits: perKey });
  const whole = center.limits?.cost_center;
  if (whole && (whole.rpm !== undefined || whole.tpm !== undefined)) scopes.push({ id: `cc:${key.costCenter}`, label: `cost center ${key.costCenter}`, limits: whole });
  return scopes;
}

/** A turn's place in its rate windows: settled once to the tokens it really used (a second call does nothing). */
export interface TurnRate {
  scopes: readonly RateScope[];
  reservation: RateReservation;
  settle(actualTokens: number): void;
}

function turnRate(limiter: RateLimiter, scopes: readonly RateScope[], reservation: RateReservation): TurnRate {
  let settled = false;
  return {
    scopes,
    reservation,
    settle(actualTokens) {
      if (settled) return;
      settled = true;
      limiter.settle(scopes, reservation, actualTokens);
    },
  };
}

/**
 * What a key itself may do before the policy decides: the models it is narrowed to (a key may be
 * issued for fewer models than its cost center allows) and its requests/tokens per minute. `tokens` is
 * what the turn may use (input estimate + output reservation, gateway/accounting/output-reservation.ts).
 * Returns the refusal (if any) and, when rate limits apply, the turn's reservation to settle at its end.
 */
export async function admitKey(key: VirtualKey, center: CostCenter, requestedModel: string, tokens: number, limiter: RateLimiter | undefined): Promise<{ refusal?: GatewayError; rate?: TurnRate }> {
  if (key.allowedModels.length > 0 && !key.allowedModels.includes(requestedModel)) {
    const refusal = new GatewayError('model_not_allowed', {
      message: `gatehouse: key ${key.id} of developer ${key.developer} (cost center "${key.costCenter}") may use only ${key.allowedModels.join(', ')}, not "${requestedModel}". Pick one of those, or ask your platform team to widen the key (\`npx gatehouse keys update ${key.id} --models …\`).`,
      param: 'model',
    });
    return { refusal };
  }
  if (!limiter) return {};
  const scopes = rateScopesOf(key, center);
  if (scopes.length === 0) return {};
  const decision = await limiter.admit(scopes, tokens);
  if (decision.ok) return { rate: turnRate(limiter, scopes, decision.reservation) };
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMillis / 1000));
  const what =
    decision.limit === 'rpm'
      ? `${decision.value} requests per minute`
      : `${decision.value.toLocaleString('en-US')} tokens per minute, and this request reserves ${tokens.toLocaleString('en-US')} (its input and the most output it may produce; a smaller max_output_tokens reserves less)`;
  const refusal = new GatewayError('rate_limit_exceeded', {
    message: `gatehouse: the rate limit of ${decision.scope.label} is reached: ${what} (${decision.observed.toLocaleString('en-US')} in the last minute, model "${requestedModel}"). Retry in ${seconds} s, or ask your platform team for a higher limit (policy limits.${decision.scope.id.startsWith('cc:') ? 'cost_center.' : ''}${decision.limit}).`,
    retryAfterMillis: decision.retryAfterMillis,
  });
  return { refusal };
}
