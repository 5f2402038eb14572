import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.ts';

/** An admin request body checked by its zod schema; every problem listed by path in one 400 `invalid_request`. */
export function parseAdminBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new GatewayError('invalid_request', { message: `gatehouse: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` });
  }
  return parsed.data;
}
