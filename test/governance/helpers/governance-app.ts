import Fastify, { type FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { registerErrorHandler } from '../../../gateway/plugins/error-handler.ts';
import { adminTokenEntries, createRequireRole } from '../../../gateway/plugins/admin-auth.ts';
import { governanceRoutes } from '../../../gateway/admin/governance-routes.ts';
import type { GovernanceService } from '../../../shared/governance/governance-service.ts';

export const TOKENS = {
  admin: 'admin-token-0123456789',
  approver: 'approver-token-0123456789',
  analyst: 'analyst-token-0123456789',
};

/** A Fastify app with only the governance admin routes, the real admin auth and error handler. */
export async function buildGovernanceApp(governance: GovernanceService, client: ClickHouseClient, database: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerErrorHandler(app, { debug: false });
  const requireRole = createRequireRole(
    adminTokenEntries([
      { name: 'ops', role: 'admin', token: TOKENS.admin },
      { name: 'reviewer', role: 'approver', token: TOKENS.approver },
      { name: 'finance', role: 'analyst', token: TOKENS.analyst },
    ]),
  );
  await governanceRoutes(app, { governance, client, database, requireRole });
  return app;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
