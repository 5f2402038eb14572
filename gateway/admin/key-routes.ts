import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { GatewayContext } from '../context.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { describeKey } from '../state/key-store.ts';

export const CreateKeyBody = z
  .object({
    developer: z.string().min(1),
    cost_center: z.string().min(1),
    repo: z.string().optional(),
    identity: z.string().optional(),
    tags: z.array(z.string()).optional(),
    budgets: z.object({ daily_usd: z.number().positive().optional(), monthly_usd: z.number().positive().optional() }).strict().optional(),
  })
  .strict();

export function registerKeyRoutes(app: FastifyInstance, context: GatewayContext): void {
  app.post('/admin/keys', { preHandler: context.requireRole('admin') }, async (request, reply) => {
    const parsed = CreateKeyBody.safeParse(request.body);
    if (!parsed.success) {
      throw new GatewayError('invalid_request', { message: `gatehouse: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` });
    }
    const policy = context.policy.current();
    if (!(parsed.data.cost_center in policy.document.cost_centers)) {
      throw new GatewayError('invalid_request', {
        message: `gatehouse: unknown cost center "${parsed.data.cost_center}"; known: ${Object.keys(policy.document.cost_centers).join(', ')}`,
        param: 'cost_center',
      });
    }
    const { key, secret } = await context.keys.create(parsed.data, request.admin?.name ?? 'admin');
    context.audit.record({
      actor: request.admin?.name ?? 'admin',
      action: 'key.created',
      subject: key.id,
      cost_center: key.costCenter,
      policy_version: policy.version,
      details: { developer: key.developer, repo: key.repo, identity: key.identity },
    });
    return reply.code(201).send({ ...describeKey(key), key: secret });
  });

  app.get('/admin/keys', { preHandler: context.requireRole('admin') }, async () => ({ keys: context.keys.list().map(describeKey) }));

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', { preHandler: context.requireRole('admin') }, async (request) => {
    const key = await context.keys.revoke(request.params.id);
    if (!key) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    context.audit.record({
      actor: request.admin?.name ?? 'admin',
      action: 'key.revoked',
      subject: key.id,
      cost_center: key.costCenter,
      policy_version: context.policy.current().version,
      details: { developer: key.developer },
    });
    return describeKey(key);
  });
}
