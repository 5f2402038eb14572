import { execFileSync, spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `npm test`'s first step (package.json "pretest"): what it does on a machine that lacks something. */
const SCRIPT = resolve(import.meta.dirname, 'provision-test-machine.mjs');

function provision(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH, GATEHOUSE_PROVISION_NO_INSTALL: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

/** A loopback port nothing listens on (taken from the kernel, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** Sends one inline Redis command and returns the first reply line. */
function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(`${command}\r\n`));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        done(reply.split('\r\n')[0] ?? '');
      }
    });
    socket.on('close', () => done(reply));
    socket.on('error', fail);
  });
}

const oneLine = (text: string) => text.trim().split('\n');

describe('npm test provisioning the machine', () => {
  it('starts redis-server when nothing answers on the Redis port, and says so', async () => {
    const port = await freePort();
    const result = await provision({ REDIS_URL: `redis://127.0.0.1:${port}`, GATEHOUSE_PROVISION_CHROMIUM: SCRIPT });
    try {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`npm test: starting redis-server on 127.0.0.1:${port}`);
      expect(result.stdout).toContain(`npm test: Redis answers at 127.0.0.1:${port}`);
      expect(await redisCommand(port, 'PING')).toBe('+PONG');
    } finally {
      await redisCommand(port, 'SHUTDOWN NOSAVE').catch(() => undefined);
    }
  });

  it('stops with one line naming what to install when redis-server is missing and it may not install', async () => {
    const port = await freePort();
    const result = await provision({ REDIS_URL: `redis://127.0.0.1:${port}`, GATEHOUSE_PROVISION_REDIS_SERVER: 'redis-server-not-installed' });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain('apt-get install -y redis-server');
  });

  it('stops with one line naming Debian\'s chromium when the browser is missing and it may not install', async () => {
    const result = await provision({ GATEHOUSE_PROVISION_CHROMIUM: '/nonexistent/chromium' });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('npm test: Redis answers at 127.0.0.1:6379');
    expect(oneLine(result.stderr)).toEqual([expect.stringContaining('apt-get install -y chromium')]);
  });

  // The system's Node.js (outside npm scripts, where the bundled 24 is first on PATH).
  const systemNode = execFileSync('/usr/bin/env', ['node', '--version'], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' }).trim();
  it.skipIf(Number(/^v(\d+)/.exec(systemNode)?.[1]) >= 22)(`names the Node.js to use when an older one runs it (system ${systemNode})`, async () => {
    const child = spawn('/usr/bin/env', ['node', SCRIPT], { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((done) => child.on('close', done));
    expect(code).toBe(1);
    expect(oneLine(stderr)).toEqual([expect.stringContaining('run `npm install`')]);
  });
});
