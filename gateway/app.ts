import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { GatewayContext } from './context.ts';
import { errorHandler } from './plugins/error-handler.ts';
import { jsonBody } from './plugins/json-body.ts';
import { openApi } from './openapi/openapi.ts';
import { clientRoutes } from './routes/client-routes.ts';
import { opsRoutes } from './routes/ops-routes.ts';
import { adminRoutes } from './routes/admin-routes.ts';
import { consoleRoutes, type ConsoleRoutesOptions } from './admin/console-routes.ts';
import { GATEHOUSE_VERSION } from '../shared/version.ts';

export interface BuildGatewayOptions {
  /** Serve the client turn routes (POST /v1/…); false for collector/evaluator/optimizer-only processes. @defaultValue true */
  clientRoutes?: boolean;
  /** Admin routes of other components (governance, optimizer), registered inside the admin route set. */
  adminPlugins?: FastifyPluginAsync[];
  /** Role-dependent operations endpoints (OTLP intake, /clickhouse), registered inside the ops route set. */
  opsPlugins?: FastifyPluginAsync[];
  /** Serves the console under /console/ when given. */
  console?: ConsoleRoutesOptions;
  debug?: boolean;
}

function createFastify(context: GatewayContext): FastifyInstance {
  const server = context.config.server;
  return Fastify({
    loggerInstance: context.logger as unknown as FastifyBaseLogger,
    bodyLimit: server.body_limit_bytes,
    requestTimeout: server.request_timeout_ms,
    // Node enforces the request timeout only from its connection check timer (30 s by default)
    // and, set after construction with the 60 s headers timeout above it, not at all: pass both to
    // the server so a client that stalls mid-request is cut off (408) close to request_timeout_ms.
    http: {
      requestTimeout: server.request_timeout_ms,
      headersTimeout: Math.min(60_000, server.request_timeout_ms),
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(server.request_timeout_ms / 4))),
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
}

/**
 * Builds the gateway app; never listens (the process composition in cli/start-gatehouse.ts does).
 * Cross-cutting plugins first (they reach every route set), then each route set in a context of its own.
 */
export async function buildGatewayApp(context: GatewayContext, options: BuildGatewayOptions = {}): Promise<FastifyInstance> {
  const app = createFastify(context);
  await app.register(errorHandler, { debug: options.debug ?? false });
  await app.register(jsonBody);
  // Before any route: the description is gathered from the routes registered after it.
  await app.register(openApi, { version: GATEHOUSE_VERSION });
  await app.register(clientRoutes, { context, turns: options.clientRoutes !== false });
  await app.register(opsRoutes, { context, plugins: options.opsPlugins ?? [] });
  await app.register(adminRoutes, { context, plugins: options.adminPlugins ?? [] });
  if (options.console) await app.register(consoleRoutes, options.console);
  return app;
}
