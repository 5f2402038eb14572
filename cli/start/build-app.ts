import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import { buildGatewayApp } from '../../gateway/app.ts';
import { governanceRoutePlugin } from '../../gateway/admin/governance-routes.ts';
import type { GatewayContext } from '../../gateway/context.ts';
import type { RunningGovernance } from '../../shared/governance/start-governance.ts';
import type { OptimizerLoop } from '../../optimizer/optimizer-loop.ts';
import type { Storage } from './open-storage.ts';
import { collectorPlugins, embeddedEnginePlugins, type Role } from './roles.ts';

const CONSOLE_DIST = resolve(import.meta.dirname, '..', '..', 'console', 'dist');

export interface ProcessAppParts {
  roles: readonly Role[];
  config: DeploymentConfig;
  context: GatewayContext;
  storage: Storage;
  governance: RunningGovernance;
  optimizer: OptimizerLoop | undefined;
}

/** The HTTP app of this process: the gateway's route sets, with what the process's roles add to them. */
export function buildProcessApp(parts: ProcessAppParts): Promise<FastifyInstance> {
  const { roles, context, storage } = parts;
  const policy = parts.governance.store;
  return buildGatewayApp(context, {
    clientRoutes: roles.includes('gateway'),
    adminPlugins: [governanceRoutePlugin(parts.governance, { client: storage.clickhouse, database: storage.database, requireRole: context.requireRole }), ...(parts.optimizer ? [parts.optimizer.routes(context.requireRole)] : [])],
    opsPlugins: [...embeddedEnginePlugins(parts.config, storage, context), ...collectorPlugins(roles, storage)],
    console: {
      distDir: CONSOLE_DIST,
      database: storage.database,
      requireRole: context.requireRole,
      oidc: () => {
        const oidc = policy.current().document.oidc;
        return oidc ? { issuer: oidc.issuer, client_id: oidc.audience } : undefined;
      },
    },
  });
}
