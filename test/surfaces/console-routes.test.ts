import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../gateway/admin/console-routes.ts';
import { adminTokenEntries, createRequireRole } from '../../gateway/plugins/admin-auth.ts';

const directories: string[] = [];
function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-console-routes-'));
  directories.push(directory);
  return directory;
}

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

describe('consoleRoutes', () => {
  it('answers 503 with build instructions while the console is not built, then serves it once built', async () => {
    const distDir = join(tempDir(), 'dist');
    const app = Fastify();
    await app.register(consoleRoutes, { distDir });
    const missing = await app.inject({ method: 'GET', url: '/console/' });
    expect(missing.statusCode).toBe(503);
    expect(missing.headers['content-type']).toContain('text/html');
    expect(missing.body).toContain('npm run build');
    expect((await app.inject({ method: 'GET', url: '/console/assets/index.js' })).statusCode).toBe(503);
    // Built after start: the page appears without a restart.
    mkdirSync(distDir, { recursive: true });
    writeFileSync(join(distDir, 'index.html'), '<!doctype html><title>console</title>');
    const built = await app.inject({ method: 'GET', url: '/console/' });
    expect(built.statusCode).toBe(200);
    expect(built.body).toContain('<title>console</title>');
    expect(built.headers['cache-control']).toBe('no-store');
    expect(built.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    await app.close();
  });

  it('serves hashed assets with long caching, config.json with the database and OIDC, and whoami', async () => {
    const distDir = tempDir();
    mkdirSync(join(distDir, 'assets'));
    writeFileSync(join(distDir, 'index.html'), '<!doctype html>');
    writeFileSync(join(distDir, 'assets', 'index-abc123.js'), 'console.log(1)');
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    const requireRole = createRequireRole(adminTokenEntries([{ name: 'ana', role: 'analyst', token: 'analyst-token-000000' }]));
    await app.register(consoleRoutes, {
      distDir,
      database: 'gh',
      oidc: () => ({ issuer: 'https://idp.example.com', client_id: 'gatehouse-console' }),
      requireRole,
    });
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toContain('javascript');
    const config = await app.inject({ method: 'GET', url: '/console/config.json' });
    expect(config.json()).toEqual({ database: 'gh', oidc: { issuer: 'https://idp.example.com', client_id: 'gatehouse-console' } });
    const page = await app.inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain('connect-src \'self\' https://idp.example.com');
    expect((await app.inject({ method: 'GET', url: '/console/../package.json' })).statusCode).not.toBe(200);
    const whoami = await app.inject({ method: 'GET', url: '/admin/whoami', headers: { authorization: 'Bearer analyst-token-000000' } });
    expect(whoami.json()).toEqual({ name: 'ana', role: 'analyst' });
    expect((await app.inject({ method: 'GET', url: '/admin/whoami' })).statusCode).toBeGreaterThanOrEqual(400);
    await app.close();
  });
});
