import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import type { AdminRole } from '../shared/config/config-schema.ts';
// The admin surface renders its errors through the gateway's one catalog (the process serving these routes is a gateway app).
import { GatewayError } from '../gateway/errors/gateway-error.ts';
import type { GuardCheck } from './rollback-orchestration.ts';
import type { ExplorationPublisher, LastRun, OptimizerRun, RunInput } from './optimizer-run.ts';

const RunBody = z.object({ cost_center: z.string().optional(), dry_run: z.boolean().optional() }).strict();

export interface OptimizerRouteDeps {
  run(input?: RunInput): Promise<OptimizerRun>;
  last(): LastRun | undefined;
  guard(): Promise<GuardCheck[]>;
  plans?: Pick<ExplorationPublisher, 'all'> | undefined;
}

/** A run's answer without the proposed documents (the diff and math say what changes), with the exploration plans in force after it. */
function answer(outcome: OptimizerRun, deps: OptimizerRouteDeps) {
  return { proposals: outcome.proposals, results: outcome.results.map((result) => (result.status === 'proposal' ? { ...result, document: undefined } : result)), exploration: outcome.exploration, plans: deps.plans?.all() ?? [] };
}

/** POST /admin/optimizer/run; `accept: application/x-ndjson` streams progress lines first (the CLI draws its progress bar from them). */
async function runRoute(deps: OptimizerRouteDeps, request: FastifyRequest, reply: FastifyReply) {
  const parsed = RunBody.safeParse(request.body ?? {});
  if (!parsed.success) throw new GatewayError('invalid_request', { message: `gatehouse: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` });
  const input = { costCenter: parsed.data.cost_center, dryRun: parsed.data.dry_run };
  if (!String(request.headers.accept ?? '').includes('application/x-ndjson')) return answer(await deps.run(input), deps);
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
  try {
    const outcome = await deps.run({ ...input, onProgress: (progress) => reply.raw.write(`${JSON.stringify({ progress })}\n`) });
    reply.raw.end(`${JSON.stringify({ result: answer(outcome, deps) })}\n`);
  } catch (error) {
    reply.raw.end(`${JSON.stringify({ error: { message: (error as Error).message } })}\n`);
  }
  return reply;
}

/**
 * Where each cost center stands (warming up and what it lacks, no improvement and why, or a proposal,
 * and what exploration is learning): the last run's results, or a dry run now when there was none
 * since start. One dry run at a time, shared by every caller and kept for a minute: an analyst polling
 * the status must not start optimizer runs (they query the main ClickHouse connection, outside analyst limits).
 */
function statusRoute(deps: OptimizerRouteDeps) {
  let statusRun: { started: number; result: Promise<LastRun> } | undefined;
  const statusDryRun = () => {
    if (statusRun === undefined || Date.now() - statusRun.started > 60_000) {
      const result = deps.run({ dryRun: true }).then((outcome) => ({ at: new Date().toISOString(), results: outcome.results, exploration: outcome.exploration }));
      statusRun = { started: Date.now(), result };
      result.catch(() => (statusRun = undefined));
    }
    return statusRun.result;
  };
  return async () => {
    const latest = deps.last() ?? (await statusDryRun());
    // `plans`: what the gateways apply now (a plan of a distributed optimizer replica shows too).
    return { at: latest.at, results: latest.results.map((result) => (result.status === 'proposal' ? { ...result, document: undefined } : result)), exploration: latest.exploration, plans: deps.plans?.all() ?? [] };
  };
}

/** The optimizer's admin routes: run now, status, one guard look. */
export function optimizerRoutes(deps: OptimizerRouteDeps, requireRole: (role: AdminRole) => preHandlerAsyncHookHandler): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    app.post('/admin/optimizer/run', { preHandler: requireRole('admin') }, (request, reply) => runRoute(deps, request, reply));
    app.get('/admin/optimizer/status', { preHandler: requireRole('analyst') }, statusRoute(deps));
    app.post('/admin/optimizer/guard', { preHandler: requireRole('admin') }, async () => ({ checks: await deps.guard() }));
  };
}
