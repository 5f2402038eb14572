import type { FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import type { InboundProtocol } from '../forward/forward-types.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { KeyRefusal, VirtualKey } from '../state/key-store.ts';

/** The virtual key from `Authorization: Bearer` (or `x-api-key` on the Anthropic route). */
export function presentedClientKey(request: FastifyRequest, inbound: InboundProtocol): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  if (inbound === 'anthropic-messages') {
    const apiKey = request.headers['x-api-key'];
    if (typeof apiKey === 'string') return apiKey.trim();
  }
  return undefined;
}

export function authenticateClient(context: GatewayContext, request: FastifyRequest, inbound: InboundProtocol): VirtualKey {
  const presented = presentedClientKey(request, inbound);
  if (!presented) {
    throw new GatewayError('invalid_api_key', {
      message: 'gatehouse: no virtual key sent. Set it as "Authorization: Bearer <key>" (Codex CLI: the env_key of your gatehouse model provider; `npx gatehouse codex-config --key …` prints the block).',
    });
  }
  const found = context.keys.authenticate(presented);
  if ('refusal' in found) throw new GatewayError('invalid_api_key', { message: refusalMessage(found.refusal, found.key) });
  return found.key;
}

function refusalMessage(refusal: KeyRefusal, key: VirtualKey | undefined): string {
  const owner = key ? ` (key ${key.id} of ${key.developer}, cost center "${key.costCenter}")` : '';
  switch (refusal) {
    case 'expired':
      return `gatehouse: this virtual key${owner} expired at ${key?.expiresAt}. Ask your platform team to extend it (\`npx gatehouse keys update ${key?.id} --expires …\`) or for a new key.`;
    case 'rotated':
      return `gatehouse: this virtual key${owner} was rotated and its grace period ended at ${key?.previousValidUntil}. Use the new key your platform team gave you.`;
    default:
      // Revoked and unknown read the same: a revoked key's holder learns nothing about whose it was.
      return 'gatehouse: this virtual key is unknown or revoked. Ask your platform team for a key (`npx gatehouse keys create`).';
  }
}
