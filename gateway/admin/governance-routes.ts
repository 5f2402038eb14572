import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import type { AdminRole } from '../../shared/config/config-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { GovernanceService } from '../../shared/governance/governance-service.ts';
import { versionView } from '../../shared/governance/governance-service.ts';
import type { RunningGovernance } from '../../shared/governance/start-governance.ts';
import { readAuditRows, toAuditExportLine } from '../../shared/audit/read-audit-log.ts';
import { verifyAuditChain } from '../../shared/audit/verify-audit-chain.ts';
import type { AuditSink } from '../../shared/audit/audit-event.ts';
import type { AnchoredCheckpoint } from '../../shared/audit/audit-checkpoint.ts';
import { parseAdminBody } from './parse-admin-body.ts';

/** What `governanceRoutes` needs; the lead wires these at start-up. */
export interface GovernanceRouteOptions {
  governance: GovernanceService;
  /** Audit export and verification read `audit_log` directly. */
  client: ClickHouseClient;
  database: string;
  /** This process's audit log: flushed before audit reads, so an admin sees the events they just caused. */
  audit?: AuditSink | undefined;
  /** Checkpoints of the audit head kept outside audit_log (verify compares the table against them). */
  anchors?: (() => Promise<AnchoredCheckpoint[]>) | undefined;
  /** Highest audit seq waiting in the spool (verify does not call those rows removed). */
  spooledSeq?: (() => number) | undefined;
  /** The admin-auth preHandler factory (gateway/plugins/admin-auth.ts); sets `request.admin`. */
  requireRole: (role: AdminRole) => preHandlerAsyncHookHandler;
}

/**
 * The governance routes of a started governance, as a plugin for `buildGatewayApp({ adminPlugins })`.
 * They live here, not in start-governance: governance is shared with the optimizer, routes are the gateway's.
 */
export function governanceRoutePlugin(
  governance: RunningGovernance,
  options: Pick<GovernanceRouteOptions, 'client' | 'database' | 'requireRole'>,
): (app: FastifyInstance) => Promise<void> {
  return (app) =>
    governanceRoutes(app, {
      ...options,
      governance: governance.service,
      audit: governance.audit,
      anchors: () => governance.audit.anchors(),
      spooledSeq: () => governance.spooledSeq(),
    });
}

export const ProposalBody = z
  .object({
    document: z.record(z.string(), z.unknown()).optional(),
    patch: z.record(z.string(), z.unknown()).optional(),
    justification: z.string().trim().min(1, 'justification is required'),
    author: z.string().trim().min(1).optional(),
    summary: z.string().optional(),
  })
  .strict();

export const ApproveBody = z
  .object({ approver: z.string().min(1).optional(), signature: z.string().min(1, 'signature is required'), id_token: z.string().min(1).optional() })
  .strict();
export const RejectBody = z.object({ reason: z.string().trim().min(1, 'reason is required') }).strict();
export const RollbackBody = z.object({ to_version: z.number().int().positive(), justification: z.string().trim().min(1, 'justification is required'), author: z.string().optional() }).strict();
const AuditQuery = z
  .object({
    since: z.string().optional(),
    after_seq: z.coerce.number().int().nonnegative().optional(),
    action: z.string().optional(),
    limit: z.coerce.number().int().positive().max(1_000_000).optional(),
  })
  .strict();

/**
 * Admin routes of the governance workflow (CONTRACT "Admin HTTP"). Reading needs `analyst`,
 * proposing/approving/rejecting/rolling back needs `approver`.
 */
export async function governanceRoutes(app: FastifyInstance, options: GovernanceRouteOptions): Promise<void> {
  policyRoutes(app, options);
  proposalRoutes(app, options);
  auditRoutes(app, options);
}

/** The active policy and its versions. */
function policyRoutes(app: FastifyInstance, { governance, requireRole }: GovernanceRouteOptions): void {
  const store = governance.store;
  app.get('/admin/policy', { preHandler: requireRole('analyst') }, async () => {
    const policy = store.current();
    const readiness = store.readiness();
    return {
      version: policy.version,
      hash: policy.hash,
      parent_hash: policy.parentHash,
      approved_by: policy.approvedBy,
      document: policy.document,
      refusal: readiness.refusal ?? null,
    };
  });

  app.get('/admin/policy/versions', { preHandler: requireRole('analyst') }, async () => ({ versions: await governance.history() }));

  app.get<{ Params: { version: string } }>('/admin/policy/versions/:version', { preHandler: requireRole('analyst') }, async (request) => {
    const number = Number(request.params.version);
    const row = Number.isInteger(number) ? await store.version(number) : undefined;
    if (!row) throw new GatewayError('not_found', { message: `gatehouse: no policy version ${request.params.version}` });
    return { ...versionView(store.isRefused(row) ? { ...row, status: 'refused' } : row, store.current().version), document: JSON.parse(row.document) as unknown };
  });
}

/** Proposals (a rollback is one too), approvals and rejections. */
function proposalRoutes(app: FastifyInstance, { governance, requireRole }: GovernanceRouteOptions): void {
  app.post('/admin/policy/proposals', { preHandler: requireRole('approver') }, async (request, reply) => {
    const body = parseAdminBody(ProposalBody, request.body);
    const author = body.author ?? request.admin?.name;
    if (!author) throw new GatewayError('invalid_request', { message: 'gatehouse: author is required', param: 'author' });
    const proposal = await governance.createProposal({
      ...(body.document !== undefined ? { document: body.document } : {}),
      ...(body.patch !== undefined ? { patch: body.patch } : {}),
      justification: body.justification,
      author,
      proposedBy: request.admin?.name,
      source: 'human',
      ...(body.summary !== undefined ? { summary: body.summary } : {}),
    });
    return reply.code(201).send(proposal);
  });

  app.get<{ Querystring: { status?: string } }>('/admin/policy/proposals', { preHandler: requireRole('analyst') }, async (request) => {
    const status = request.query.status;
    if (status !== undefined && !['pending', 'approved', 'rejected'].includes(status)) {
      throw new GatewayError('invalid_request', { message: 'gatehouse: status must be pending, approved or rejected', param: 'status' });
    }
    return { proposals: await governance.listProposals(status) };
  });

  app.get<{ Params: { id: string } }>('/admin/policy/proposals/:id', { preHandler: requireRole('analyst') }, async (request) =>
    governance.getProposal(request.params.id),
  );

  app.post<{ Params: { id: string } }>('/admin/policy/proposals/:id/approve', { preHandler: requireRole('approver') }, async (request) => {
    const body = parseAdminBody(ApproveBody, request.body);
    const result = await governance.approveProposal(request.params.id, { ...body, caller: request.admin });
    return { version: result.version, proposal: result.proposal };
  });

  app.post<{ Params: { id: string } }>('/admin/policy/proposals/:id/reject', { preHandler: requireRole('approver') }, async (request) => {
    const body = parseAdminBody(RejectBody, request.body);
    return governance.rejectProposal(request.params.id, { reason: body.reason, actor: request.admin?.name ?? 'admin' });
  });

  // A rollback is a proposal of the old document: it needs an approver's signature like any change.
  app.post('/admin/policy/rollback', { preHandler: requireRole('approver') }, async (request, reply) => {
    const body = parseAdminBody(RollbackBody, request.body);
    const proposal = await governance.proposeRollback({ to_version: body.to_version, justification: body.justification, author: body.author ?? request.admin?.name ?? 'admin', proposedBy: request.admin?.name });
    return reply.code(201).send({ ...proposal, to_version: body.to_version, next: `approve with POST /admin/policy/proposals/${proposal.id}/approve {approver, signature}` });
  });
}

/** Audit export (JSON Lines for a SIEM) and chain verification. */
function auditRoutes(app: FastifyInstance, options: GovernanceRouteOptions): void {
  const { requireRole } = options;
  app.get('/admin/audit', { preHandler: requireRole('analyst') }, async (request, reply) => {
    const query = parseAdminBody(AuditQuery, request.query);
    // Events wait up to a second for their insert; read them back only once they are stored.
    await options.audit?.flush();
    let rows;
    try {
      rows = await readAuditRows({ client: options.client, database: options.database, since: query.since, afterSeq: query.after_seq, action: query.action, limit: query.limit });
    } catch (error) {
      if (error instanceof RangeError) throw new GatewayError('invalid_request', { message: `gatehouse: ${error.message}`, param: 'since' });
      throw error;
    }
    const text = rows.map((row) => JSON.stringify(toAuditExportLine(row))).join('\n');
    return reply.type('application/x-ndjson; charset=utf-8').send(text.length > 0 ? `${text}\n` : '');
  });

  app.get('/admin/audit/verify', { preHandler: requireRole('analyst') }, async () => {
    await options.audit?.flush();
    return verifyAuditChain({ client: options.client, database: options.database, anchors: await options.anchors?.(), spooledSeq: options.spooledSeq?.() });
  });
}
