import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { keyRoutes } from '../admin/key-routes.ts';
import { sqlRoutes } from '../admin/sql-routes.ts';
import { modelRoutes } from '../admin/model-routes.ts';

export interface AdminRoutesOptions {
  context: GatewayContext;
  /** Admin routes of other components (governance, the optimizer's run and status), registered inside. */
  plugins?: FastifyPluginAsync[];
}

/**
 * The admin API under `/admin/…`: keys, models, analyst SQL, and the governance and optimizer routes
 * the process runs. Every route takes the admin-auth preHandler (gateway/plugins/admin-auth.ts), which
 * sets `request.admin`; declared here so the admin requests share one shape.
 */
export async function adminRoutes(app: FastifyInstance, options: AdminRoutesOptions): Promise<void> {
  app.decorateRequest('admin', undefined);
  await app.register(keyRoutes, { context: options.context });
  await app.register(sqlRoutes, { context: options.context });
  await app.register(modelRoutes, { context: options.context });
  for (const plugin of options.plugins ?? []) await app.register(plugin);
}
