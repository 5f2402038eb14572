import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { GatewayContext } from '../context.ts';

export interface OpsRoutesOptions {
  context: GatewayContext;
  /** The role-dependent operations endpoints (OTLP intake, the embedded engine's /clickhouse), registered inside. */
  plugins?: FastifyPluginAsync[];
}

async function readiness(context: GatewayContext): Promise<{ ok: boolean; checks: { name: string; ok: boolean; detail?: string | undefined }[] }> {
  const policyReadiness = context.policy.readiness();
  const checks = await Promise.all(
    context.readinessChecks.map((check) => check().catch((error: unknown) => ({ name: 'check', ok: false, detail: (error as Error).message }))),
  );
  checks.push({ name: 'policy', ok: policyReadiness.ok, detail: policyReadiness.refusal ?? `version ${context.policy.current().version}` });
  if (context.draining) checks.push({ name: 'draining', ok: false, detail: 'shutting down' });
  return { ok: checks.every((check) => check.ok), checks };
}

/** Gauges read at scrape time rather than kept current on every write. */
function refreshGauges(context: GatewayContext): void {
  const writer = context.writer.stats();
  const spool = context.writer.spoolStats();
  context.metrics.spansQueued.set(writer.queuedRows);
  context.metrics.spansDropped.set(writer.droppedRows + spool.droppedRows);
  context.metrics.spansWritten.set(writer.writtenRows);
  context.metrics.spoolBytes.set(spool.bytes);
  context.metrics.spoolFiles.set(spool.files);
  context.metrics.policyVersion.set(context.policy.current().version);
}

/**
 * What operators and their tools read: liveness, readiness, Prometheus metrics, the OpenAPI document
 * (the description itself is gathered by the openApi plugin, gateway/openapi/openapi.ts), and the
 * role-dependent endpoints passed in `plugins`, each in a context of its own.
 */
export async function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): Promise<void> {
  const { context } = options;
  app.get('/openapi.json', async () => app.swagger());
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ok, checks } = await readiness(context);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });
  // Spend per cost center is in the series: a deployment reachable beyond its operators can ask for a token.
  const metricsAccess = context.config.admin.metrics_requires_token ? { preHandler: context.requireRole('analyst') } : {};
  app.get('/metrics', metricsAccess, async (_request, reply) => {
    refreshGauges(context);
    return reply.type(context.metrics.registry.contentType).send(await context.metrics.render(context.extraMetrics?.() ?? ''));
  });
  for (const plugin of options.plugins ?? []) await app.register(plugin);
}
