import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../gateway/admin/console-routes.ts';
import { CONSOLE_DIST } from '../helpers/console-gateway.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');
const ID_TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJzc28tdXNlciJ9.';

let gatehouse: FastifyInstance;
let identityProvider: FastifyInstance;
let gatehouseUrl: string;
let browser: Browser;
const authorizeRequests: Record<string, string>[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
  if (!existsSync(join(CONSOLE_DIST, 'index.html'))) throw new Error('console/dist is not built: npm run build');
  mkdirSync(ARTIFACTS, { recursive: true });

  // A stand-in identity provider: discovery (with CORS, the console fetches it) and an authorize
  // endpoint that sends the browser back with an ID token in the fragment (implicit flow).
  identityProvider = Fastify();
  identityProvider.get('/.well-known/openid-configuration', async (request, reply) => {
    reply.header('access-control-allow-origin', '*');
    return { issuer: `http://${request.headers.host}`, authorization_endpoint: `http://${request.headers.host}/authorize` };
  });
  identityProvider.get('/authorize', async (request, reply) => {
    const query = request.query as Record<string, string>;
    authorizeRequests.push(query);
    return reply.redirect(`${query.redirect_uri}#id_token=${ID_TOKEN}&state=${query.state}`, 302);
  });
  const issuer = await identityProvider.listen({ host: '127.0.0.1', port: 0 });

  gatehouse = Fastify();
  await gatehouse.register(consoleRoutes, { distDir: CONSOLE_DIST, oidc: { issuer, client_id: 'gatehouse-console' } });
  // The gateway's side of OIDC (verifying the ID token) is not the console's: this stands in for it.
  gatehouse.get('/admin/whoami', async (request, reply) =>
    request.headers.authorization === `Bearer ${ID_TOKEN}` ? { name: 'sso-user', role: 'approver' } : reply.code(401).send({ error: { message: 'unknown token' } }),
  );
  gatehouseUrl = await gatehouse.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gatehouse?.close();
  await identityProvider?.close();
});

describe('console single sign-on', () => {
  it('offers OIDC when configured and signs in with the returned ID token', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${gatehouseUrl}/console/`);
    const button = page.getByRole('button', { name: 'Sign in with single sign-on' });
    await button.waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'console-sign-in-oidc.png') });
    await button.click();
    await page.getByRole('navigation', { name: 'pages' }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('sso-user · approver');
    expect(authorizeRequests).toHaveLength(1);
    expect(authorizeRequests[0]).toMatchObject({ response_type: 'id_token', client_id: 'gatehouse-console', redirect_uri: `${gatehouseUrl}/console/` });
    expect(authorizeRequests[0]?.nonce).toMatch(/^[0-9a-f]{32}$/);
    const session = JSON.parse((await page.evaluate(() => sessionStorage.getItem('gatehouse.console.session'))) ?? '{}') as { oidc?: boolean; token?: string };
    expect(session).toMatchObject({ oidc: true, token: ID_TOKEN });
    expect(page.url()).not.toContain('id_token');
    await page.close();
  });

  it('shows no single-sign-on button without OIDC', async () => {
    const plain = Fastify();
    await plain.register(consoleRoutes, { distDir: CONSOLE_DIST });
    const url = await plain.listen({ host: '127.0.0.1', port: 0 });
    const page = await browser.newPage();
    await page.goto(`${url}/console/`);
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByRole('button', { name: 'Sign in with single sign-on' }).count()).toBe(0);
    await page.close();
    await plain.close();
  });
});
