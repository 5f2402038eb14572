import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { GatewayContext } from './context.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { registerErrorHandler } from './plugins/error-handler.ts';
import { MAX_JSON_DEPTH, readJsonBody } from './inbound/read-json-body.ts';
import { handleTurn } from './pipeline/handle-turn.ts';
import { authenticateClient } from './pipeline/authenticate-client.ts';
import { modelRefusal } from './policy/evaluate-policy.ts';
import { registerKeyRoutes } from './admin/key-routes.ts';
import { registerSqlRoutes } from './admin/sql-routes.ts';
import { registerModelRoutes } from './admin/model-routes.ts';
import type { InboundProtocol } from './forward/forward-types.ts';
import { registerOpenApi } from './openapi/openapi.ts';
import { GATEHOUSE_VERSION } from '../shared/version.ts';

export interface BuildGatewayOptions {
  /** Serve the client routes (/v1/…); false for collector/evaluator/optimizer-only processes. @defaultValue true */
  clientRoutes?: boolean;
  /** Extra plugins (governance, console, OTLP intake…) registered after the core routes. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  debug?: boolean;
}

const CLIENT_ROUTES: [string, InboundProtocol][] = [
  ['/v1/responses', 'openai-responses'],
  ['/v1/chat/completions', 'openai-chat'],
  ['/v1/messages', 'anthropic-messages'],
];

function isCodexClient(headers: Record<string, string | string[] | undefined>): boolean {
  const originator = headers.originator;
  const userAgent = headers['user-agent'];
  return (typeof originator === 'string' && originator.startsWith('codex')) || (typeof userAgent === 'string' && userAgent.startsWith('codex'));
}

/** Deepest JSON nesting accepted: far above real tool schemas, far below what recursive code survives. */

/**
 * Whether `root` nests objects/arrays deeper than `limit`. Iterative (a hostile body cannot
 * overflow the stack here) and visits containers only, never string contents: ~0.2 ms for a
 * 1.6 MB Codex body, against ~4 ms for the JSON.parse before it.
 */
function nestsDeeperThan(root: object, limit: number): boolean {
  const stack: unknown[] = [root];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const current = stack.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop() ?? 0;
    if (depth > limit) return true;
    if (Array.isArray(current)) {
      for (const child of current) {
        if (child !== null && typeof child === 'object') {
          stack.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    // for…in over a parsed JSON object (own keys only) allocates nothing, unlike Object.values.
    for (const key in current) {
      const child = current[key];
      if (child !== null && typeof child === 'object') {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** Builds the gateway app (never listens; see server.ts). */
export async function buildGatewayApp(context: GatewayContext, options: BuildGatewayOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: context.logger as unknown as FastifyBaseLogger,
    bodyLimit: context.config.server.body_limit_bytes,
    requestTimeout: context.config.server.request_timeout_ms,
    // Node enforces the request timeout only from its connection check timer (30 s by default)
    // and, set after construction with the 60 s headers timeout above it, not at all: pass both to
    // the server so a client that stalls mid-request is cut off (408) close to request_timeout_ms.
    http: {
      requestTimeout: context.config.server.request_timeout_ms,
      headersTimeout: Math.min(60_000, context.config.server.request_timeout_ms),
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(context.config.server.request_timeout_ms / 4))),
    },
    connectionTimeout: 0,
    keepAliveTimeout: 75_000,
    maxRequestsPerSocket: 0,
    // Per-request info logs cost more than the gateway's own work; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (it costs more than a log line we rarely write); lines carry reqId themselves.
    childLoggerFactory: (logger) => logger,
    genReqId: () => `req_${randomUUID().replaceAll('-', '')}`,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
  });

  // Keep the exact request bytes: same-protocol pass-through forwards them unchanged.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const buffer = body as Buffer;
    request.rawBody = buffer;
    if (buffer.length === 0) {
      done(new GatewayError('invalid_request', { message: 'gatehouse: empty JSON body' }), undefined);
      return;
    }
    // toString would silently turn invalid bytes into U+FFFD while pass-through forwards the raw bytes.
    if (!isUtf8(buffer)) {
      done(new GatewayError('invalid_request', { message: 'gatehouse: the request body is not valid UTF-8 (JSON must be UTF-8 encoded)' }), undefined);
      return;
    }
    // Client routes: one pass over the bytes, the big history parsed only where it is read
    // (gateway/inbound/read-json-body.ts); what Codex resends every turn is mostly forwarded as is.
    if (request.routeOptions.url?.startsWith('/v1/')) {
      try {
        done(null, readJsonBody(buffer, MAX_JSON_DEPTH));
      } catch (error) {
        done(error as Error, undefined);
      }
      return;
    }
    try {
      const parsed: unknown = JSON.parse(buffer.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        done(new GatewayError('invalid_request', { message: 'gatehouse: the JSON body must be an object' }), undefined);
        return;
      }
      if (nestsDeeperThan(parsed, MAX_JSON_DEPTH)) {
        done(new GatewayError('invalid_request', { message: `gatehouse: the JSON body nests deeper than ${MAX_JSON_DEPTH} levels` }), undefined);
        return;
      }
      done(null, parsed);
    } catch (error) {
      done(new GatewayError('invalid_request', { message: `gatehouse: malformed JSON body: ${(error as Error).message}` }), undefined);
    }
  });

  registerErrorHandler(app, { debug: options.debug ?? false });
  await registerOpenApi(app, GATEHOUSE_VERSION);

  for (const [path, inbound] of options.clientRoutes === false ? [] : CLIENT_ROUTES) {
    app.post(path, async (request, reply) => {
      request.isCodex = isCodexClient(request.headers);
      if (request.body === undefined || request.body === null) {
        request.inbound = inbound;
        throw new GatewayError('invalid_request', { message: 'gatehouse: send a JSON body with content-type: application/json' });
      }
      await handleTurn(context, inbound, request, reply);
    });
  }

  // Codex's remote compaction of long sessions (x-codex-beta-features: remote_compaction_v2).
  if (options.clientRoutes !== false) {
    app.post('/v1/responses/compact', async (request, reply) => {
      request.isCodex = isCodexClient(request.headers);
      await handleTurn(context, 'openai-responses', request, reply, { upstreamPath: '/responses/compact' });
    });
  }

  // Some Codex versions try a WebSocket on /v1/responses first and fall back to HTTP at once on 426.
  app.get('/v1/responses', async (_request, reply) => reply.code(426).header('upgrade', 'HTTP/1.1').send({ error: { message: 'gatehouse: use HTTP POST (no WebSocket transport)', type: 'invalid_request_error', code: 'upgrade_required', param: null } }));
  app.server.on('upgrade', (request, socket) => {
    const body = JSON.stringify({ error: { message: 'gatehouse: WebSocket transport is not offered; use HTTP POST', type: 'invalid_request_error', code: 'upgrade_required', param: null } });
    socket.end(`HTTP/1.1 426 Upgrade Required\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    void request;
  });

  app.get('/v1/models', async (request) => {
    const key = authenticateClient(context, request, 'openai-responses');
    const policy = context.policy.current();
    const center = policy.document.cost_centers[key.costCenter];
    // A key narrowed to fewer models (keys update --models) lists only those.
    const models = (center?.allowed_models ?? []).filter((model) => !modelRefusal(policy.document, key.costCenter, model) && (key.allowedModels.length === 0 || key.allowedModels.includes(model)));
    return {
      object: 'list',
      data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: policy.document.models[id]?.provider ?? 'gatehouse' })),
    };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const policyReadiness = context.policy.readiness();
    const checks = await Promise.all(
      context.readinessChecks.map((check) => check().catch((error: unknown) => ({ name: 'check', ok: false, detail: (error as Error).message }))),
    );
    checks.push({ name: 'policy', ok: policyReadiness.ok, detail: policyReadiness.refusal ?? `version ${context.policy.current().version}` });
    if (context.draining) checks.push({ name: 'draining', ok: false, detail: 'shutting down' });
    const ok = checks.every((check) => check.ok);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const writer = context.writer.stats();
    const spool = context.writer.spoolStats();
    context.metrics.spansQueued.set(writer.queuedRows);
    context.metrics.spansDropped.set(writer.droppedRows + spool.droppedRows);
    context.metrics.spansWritten.set(writer.writtenRows);
    context.metrics.spoolBytes.set(spool.bytes);
    context.metrics.spoolFiles.set(spool.files);
    context.metrics.policyVersion.set(context.policy.current().version);
    return reply.type(context.metrics.registry.contentType).send(await context.metrics.render(context.extraMetrics?.() ?? ''));
  });

  registerKeyRoutes(app, context);
  registerSqlRoutes(app, context);
  registerModelRoutes(app, context);
  for (const plugin of options.plugins ?? []) await plugin(app);
  return app;
}
