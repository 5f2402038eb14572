import type { CostCenter } from '../../shared/policy/policy-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { RateLimiter, RateScope } from '../state/rate-limiter.ts';
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

/**
 * What a key itself may do before the policy decides: the models it is narrowed to (a key may be
 * issued for fewer models than its cost center allows) and its requests/tokens per minute. Returns the
 * refusal (if any) and the rate scopes the request was counted against (its output tokens are added there later).
 */
export async function admitKey(key: VirtualKey, center: CostCenter, requestedModel: string, inputTokens: number, limiter: RateLimiter | undefined): Promise<{ refusal?: GatewayError; scopes: RateScope[] }> {
  if (key.allowedModels.length > 0 && !key.allowedModels.includes(requestedModel)) {
    const refusal = new GatewayError('model_not_allowed', {
      message: `gatehouse: key ${key.id} of developer ${key.developer} (cost center "${key.costCenter}") may use only ${key.allowedModels.join(', ')}, not "${requestedModel}". Pick one of those, or ask your platform team to widen the key (\`npx gatehouse keys update ${key.id} --models …\`).`,
      param: 'model',
    });
    return { refusal, scopes: [] };
  }
  if (!limiter) return { scopes: [] };
  const scopes = rateScopesOf(key, center);
  if (scopes.length === 0) return { scopes };
  const decision = await limiter.admit(scopes, inputTokens);
  if (decision.ok) return { scopes };
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMillis / 1000));
  const what = decision.limit === 'rpm' ? `${decision.value} requests per minute` : `${decision.value.toLocaleString('en-US')} tokens per minute`;
  const refusal = new GatewayError('rate_limit_exceeded', {
    message: `gatehouse: the rate limit of ${decision.scope.label} is reached: ${what} (${decision.observed.toLocaleString('en-US')} in the last minute, model "${requestedModel}"). Retry in ${seconds} s, or ask your platform team for a higher limit (policy limits.${decision.scope.id.startsWith('cc:') ? 'cost_center.' : ''}${decision.limit}).`,
    retryAfterMillis: decision.retryAfterMillis,
  });
  return { refusal, scopes: [] };
}
