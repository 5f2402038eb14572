import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { GatewayContext } from '../context.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { describeKey, type VirtualKey } from '../state/key-store.ts';
import { parseAdminBody } from './parse-admin-body.ts';

const BudgetsSchema = z.object({ daily_usd: z.number().positive().optional(), monthly_usd: z.number().positive().optional() }).strict();
const LimitsSchema = z.object({ rpm: z.number().int().positive().optional(), tpm: z.number().int().positive().optional() }).strict();
/** An instant with its zone (`2027-01-31T18:00:00Z`, `2027-01-31T18:00:00+01:00`), in the future. */
const ExpiresSchema = z.iso.datetime({ offset: true }).refine((value) => Date.parse(value) > Date.now(), { message: 'must be in the future' });

export const CreateKeyBody = z
  .object({
    developer: z.string().min(1),
    cost_center: z.string().min(1),
    repo: z.string().optional(),
    identity: z.string().optional(),
    tags: z.array(z.string()).optional(),
    budgets: BudgetsSchema.optional(),
    /** When the key stops working (401 "expired"). */
    expires_at: ExpiresSchema.optional(),
    /** Models this key may request, a subset of its cost center's allowed_models. */
    allowed_models: z.array(z.string().min(1)).optional(),
    limits: LimitsSchema.optional(),
  })
  .strict();

export const UpdateKeyBody = z
  .object({
    budgets: BudgetsSchema.nullable().optional(),
    tags: z.array(z.string()).optional(),
    repo: z.string().optional(),
    allowed_models: z.array(z.string().min(1)).optional(),
    expires_at: ExpiresSchema.nullable().optional(),
    limits: LimitsSchema.nullable().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one of budgets, tags, repo, allowed_models, expires_at, limits' });

export const RotateKeyBody = z
  .object({
    /** How long the old secret keeps working, so clients can be switched without an outage (max 30 days). */
    grace_seconds: z.number().int().nonnegative().max(30 * 86_400).default(3_600),
  })
  .strict();

/** A key may be narrowed to models its cost center allows, never widened. */
function checkNarrower(context: GatewayContext, costCenter: string, models: string[] | undefined): void {
  if (!models) return;
  const allowed = context.policy.current().document.cost_centers[costCenter]?.allowed_models ?? [];
  const outside = models.filter((model) => !allowed.includes(model));
  if (outside.length > 0) {
    throw new GatewayError('invalid_request', {
      message: `gatehouse: allowed_models may only narrow cost center "${costCenter}" (${allowed.join(', ') || 'no models'}); not allowed there: ${outside.join(', ')}`,
      param: 'allowed_models',
    });
  }
}

/** One audit event per key change, by the admin token that made it. */
function recordKeyEvent(context: GatewayContext, request: FastifyRequest, action: 'key.created' | 'key.updated' | 'key.rotated' | 'key.revoked', key: VirtualKey, details: Record<string, unknown>): void {
  context.audit.record({ actor: request.admin?.name ?? 'admin', action, subject: key.id, cost_center: key.costCenter, policy_version: context.policy.current().version, details });
}

/** Virtual keys: create, list, update, rotate, revoke; each change audited. */
export async function keyRoutes(app: FastifyInstance, { context }: { context: GatewayContext }): Promise<void> {
  app.post('/admin/keys', { preHandler: context.requireRole('admin') }, async (request, reply) => {
    const body = parseAdminBody(CreateKeyBody, request.body);
    const policy = context.policy.current();
    if (!(body.cost_center in policy.document.cost_centers)) {
      throw new GatewayError('invalid_request', {
        message: `gatehouse: unknown cost center "${body.cost_center}"; known: ${Object.keys(policy.document.cost_centers).join(', ')}`,
        param: 'cost_center',
      });
    }
    checkNarrower(context, body.cost_center, body.allowed_models);
    const { key, secret } = await context.keys.create(body, request.admin?.name ?? 'admin');
    recordKeyEvent(context, request, 'key.created', key, { developer: key.developer, repo: key.repo, identity: key.identity });
    return reply.code(201).send({ ...describeKey(key), key: secret });
  });

  // Listings hold no secret and no hash: analysts may read them (the console's Keys page, read-only).
  app.get('/admin/keys', { preHandler: context.requireRole('analyst') }, async () => ({ keys: context.keys.list().map(describeKey) }));

  app.patch<{ Params: { id: string } }>('/admin/keys/:id', { preHandler: context.requireRole('admin') }, async (request) => {
    const update = parseAdminBody(UpdateKeyBody, request.body);
    const existing = context.keys.get(request.params.id);
    if (!existing) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    checkNarrower(context, existing.costCenter, update.allowed_models);
    const key = await context.keys.update(existing.id, update);
    if (!key) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    recordKeyEvent(context, request, 'key.updated', key, { developer: key.developer, changed: Object.keys(update), ...update });
    return describeKey(key);
  });

  app.post<{ Params: { id: string } }>('/admin/keys/:id/rotate', { preHandler: context.requireRole('admin') }, async (request, reply) => {
    const rotation = parseAdminBody(RotateKeyBody, request.body);
    const existing = context.keys.get(request.params.id);
    if (!existing) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    if (existing.source === 'bootstrap') {
      throw new GatewayError('invalid_request', { message: `gatehouse: key ${existing.id} is a bootstrap key of the policy file; its secret lives there. Create an admin key for ${existing.developer} (\`npx gatehouse keys create\`) and remove the policy entry instead` });
    }
    if (existing.revokedAt !== null) throw new GatewayError('invalid_request', { message: `gatehouse: key ${existing.id} is revoked; create a new key instead` });
    const rotated = await context.keys.rotate(existing.id, rotation.grace_seconds);
    if (!rotated) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    recordKeyEvent(context, request, 'key.rotated', rotated.key, { developer: rotated.key.developer, grace_seconds: rotation.grace_seconds, old_secret_valid_until: rotated.key.previousValidUntil });
    return reply.code(200).send({ ...describeKey(rotated.key), key: rotated.secret });
  });

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', { preHandler: context.requireRole('admin') }, async (request) => {
    const key = await context.keys.revoke(request.params.id);
    if (!key) throw new GatewayError('not_found', { message: `gatehouse: no key with id ${request.params.id}` });
    recordKeyEvent(context, request, 'key.revoked', key, { developer: key.developer });
    return describeKey(key);
  });
}
