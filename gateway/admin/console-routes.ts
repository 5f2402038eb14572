import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, preHandlerAsyncHookHandler } from 'fastify';
import type { AdminRole } from '../../shared/config/config-schema.ts';

/** OIDC sign-in offered on the console's sign-in page (implicit flow; the gateway verifies the ID token). */
export interface ConsoleOidcOptions {
  issuer: string;
  /** The OAuth client id registered for the console (usually the policy's `oidc.audience`). */
  client_id: string;
  /** Skips discovery (`/.well-known/openid-configuration`) when given. */
  authorization_endpoint?: string;
  /** @defaultValue "openid email profile" */
  scope?: string;
}

export interface ConsoleRoutesOptions {
  /** Folder holding the built console (`console/dist`, made by `npm run build`). */
  distDir: string;
  /** ClickHouse database the console's SQL reads. @defaultValue gatehouse */
  database?: string;
  /** Shows a single-sign-on button when set; a function is asked on every page load (policy hot-reload). */
  oidc?: ConsoleOidcOptions | (() => ConsoleOidcOptions | undefined);
  /**
   * The admin-auth preHandler factory. When given, `GET /admin/whoami` (analyst and up) answers
   * `{name, role}` so the console shows only the actions the signed-in token may take.
   */
  requireRole?: (role: AdminRole) => preHandlerAsyncHookHandler;
}

function securityHeaders(reply: FastifyReply, connectSources: string[]): void {
  reply.header(
    'content-security-policy',
    // uPlot positions its cursor and legend with inline style attributes, hence 'unsafe-inline' for styles only.
    `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ${connectSources.join(' ')}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'`.replace(/\s+;/g, ';'),
  );
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
}

function notBuiltPage(distDir: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>Gatehouse console not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:640px;margin:60px auto;padding:0 20px}code{background:rgba(127,127,127,.18);padding:1px 5px;border-radius:4px}</style></head>
<body><h1>The console has not been built</h1>
<p>The gateway serves the console from <code>${distDir.replaceAll('<', '&lt;')}</code>, which has no <code>index.html</code>.</p>
<p>Build it once from the repository root with <code>npm run build</code> (a plain <code>npm install</code> also builds it), then reload this page. No restart is needed.</p>
<p>The admin API (<code>/admin/…</code>) works without the console.</p></body></html>`;
}

/**
 * Serves the operator console under `/console/` from its Vite build: `index.html` (never cached),
 * hashed assets (cached for a year), `/console/config.json` (database name, OIDC), and a helpful
 * 503 page while `distDir` holds no build. Encapsulated: `@fastify/static` is registered inside,
 * without decorating the reply, so it never clashes with another static plugin.
 * Register unprefixed: `app.register(consoleRoutes, { distDir })`.
 */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleRoutesOptions): Promise<void> {
  const distDir = resolve(options.distDir);
  const indexFile = join(distDir, 'index.html');
  const oidcOf = () => (typeof options.oidc === 'function' ? options.oidc() : options.oidc);

  app.get('/console/', (_request, reply) => {
    const oidc = oidcOf();
    securityHeaders(reply, oidc ? [new URL(oidc.issuer).origin] : []);
    reply.header('cache-control', 'no-store');
    if (!existsSync(indexFile)) return reply.code(503).type('text/html; charset=utf-8').header('retry-after', '30').send(notBuiltPage(distDir));
    return reply.type('text/html; charset=utf-8').send(readFileSync(indexFile));
  });
  // With the router's ignoreTrailingSlash (the gateway sets it) `/console` already reaches the page above.
  if (!app.hasRoute({ method: 'GET', url: '/console' })) app.get('/console', (_request, reply) => reply.redirect('/console/', 302));

  app.get('/console/config.json', (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const oidc = oidcOf();
    return reply.send({ database: options.database ?? 'gatehouse', ...(oidc ? { oidc } : {}) });
  });

  if (options.requireRole && !app.hasRoute({ method: 'GET', url: '/admin/whoami' })) {
    app.get('/admin/whoami', { preHandler: options.requireRole('analyst') }, async (request) => {
      const admin = (request as { admin?: { name: string; role: AdminRole } }).admin;
      return { name: admin?.name ?? 'unknown', role: admin?.role ?? 'analyst' };
    });
  }

  if (existsSync(distDir)) {
    await app.register(fastifyStatic, {
      root: distDir,
      prefix: '/console/',
      decorateReply: false,
      index: false,
      wildcard: true,
      setHeaders: (response, path) => {
        // Vite puts a content hash in every asset name, so they can be cached for good.
        response.header('cache-control', path.includes(`${join(distDir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
        response.header('x-content-type-options', 'nosniff');
      },
    });
  } else {
    app.get('/console/*', (_request, reply) => reply.code(503).type('text/html; charset=utf-8').send(notBuiltPage(distDir)));
  }
}
