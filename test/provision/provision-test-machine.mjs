#!/usr/bin/env node
// `npm test` runs this first (package.json "pretest"): it makes a fresh machine ready for the suite and
// prints each step, or stops with ONE line naming what to install. What the suite needs:
//   - Node.js >= 22.12 (the `node` dependency supplies 24: npm puts it first on PATH in scripts);
//   - Redis answering at REDIS_URL (default redis://127.0.0.1:6379): started here if it is not,
//     installed with apt-get first if redis-server is missing and we are root;
//   - Debian's Chromium at /usr/bin/chromium for the browser tests: installed with apt-get if root;
//   - the console built into console/dist (npm install builds it; `npm ci --ignore-scripts` does not).
// Plain JavaScript on purpose: it must be able to say "wrong Node.js" on any Node.js.
// Knobs (for its own test): GATEHOUSE_PROVISION_NO_INSTALL=1 never runs apt-get;
// GATEHOUSE_PROVISION_CHROMIUM=PATH checks another browser path; GATEHOUSE_PROVISION_REDIS_SERVER=NAME
// looks for another redis-server command.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const say = (text) => console.log(`npm test: ${text}`);
const stop = (text) => {
  console.error(`npm test: ${text}`);
  process.exit(1);
};

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  stop(`Node.js ${process.version} runs the tests, 22.12 or newer is needed: run \`npm install\` (the node dependency supplies Node.js 24) and then \`npm test\``);
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

const mayInstall = process.env.GATEHOUSE_PROVISION_NO_INSTALL !== '1' && process.getuid?.() === 0 && onPath('apt-get') !== undefined;

/** apt-get install, quietly; the one line on failure says what to run by hand. */
function aptInstall(debianPackage, why) {
  say(`installing ${debianPackage} with apt-get (${why})`);
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', debianPackage]]) {
    const run = spawnSync('apt-get', args, { encoding: 'utf8', env: environment });
    if (run.status !== 0) {
      const reason = `${run.stderr ?? ''}`.trim().split('\n').at(-1) ?? `exit ${run.status}`;
      stop(`apt-get ${args[0]} failed (${reason}): install ${debianPackage} yourself (apt-get install -y ${debianPackage}), then run npm test again`);
    }
  }
}

/** PING → PONG on a plain TCP connection (no client library: this runs before anything else). */
function redisAnswers(host, port, timeoutMillis = 1_000) {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host, port });
    let reply = '';
    const finish = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolveAnswer(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMillis);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

const REDIS_SERVER = process.env.GATEHOUSE_PROVISION_REDIS_SERVER ?? 'redis-server';

async function ensureRedis() {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) return say(`Redis answers at ${host}:${port}`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) stop(`Redis at ${url.host} (REDIS_URL) does not answer: start it, or unset REDIS_URL to use a local one`);
  if (onPath(REDIS_SERVER) === undefined) {
    if (!mayInstall) stop(`Redis is not answering on ${host}:${port} and redis-server is not installed: install it (sudo apt-get install -y redis-server) or start a Redis there, then run npm test again`);
    aptInstall('redis-server', 'the state, budget and queue tests use a real Redis');
  }
  const directory = join(tmpdir(), `gatehouse-test-redis-${port}`);
  mkdirSync(directory, { recursive: true });
  say(`starting ${REDIS_SERVER} on ${host}:${port} (no persistence, files in ${directory})`);
  const bind = host === '::1' ? '::1' : '127.0.0.1';
  const started = spawnSync(REDIS_SERVER, ['--daemonize', 'yes', '--bind', bind, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', directory, '--logfile', join(directory, 'redis.log')], { encoding: 'utf8' });
  if (started.status !== 0) stop(`redis-server did not start (${`${started.stderr}${started.stdout}`.trim().split('\n').at(-1)}): see ${join(directory, 'redis.log')}`);
  // The daemon forks before it listens: ask until it answers (bounded).
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (await redisAnswers(host, port, 200)) return say(`Redis answers at ${host}:${port}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  stop(`redis-server was started but does not answer on ${host}:${port}: see ${join(directory, 'redis.log')}`);
}

function ensureChromium() {
  const chromium = process.env.GATEHOUSE_PROVISION_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(chromium)) return say(`Chromium found at ${chromium}`);
  if (!mayInstall) stop(`the browser tests need Debian's Chromium at ${chromium}: install it (sudo apt-get install -y chromium), then run npm test again`);
  aptInstall('chromium', 'the console tests drive a real browser');
  if (!existsSync(chromium)) stop(`apt-get installed chromium but ${chromium} is missing: install Debian's chromium package (apt-get install -y chromium)`);
  say(`Chromium installed at ${chromium}`);
}

function ensureConsoleBuilt() {
  if (existsSync(join(ROOT, 'console', 'dist', 'index.html'))) return say('console built (console/dist)');
  say('building the console (npm run build)');
  execFileSync(process.execPath, [join(ROOT, 'console', 'build-console.mjs')], { stdio: 'inherit', cwd: ROOT });
}

say(`Node.js ${process.version}`);
await ensureRedis();
ensureChromium();
ensureConsoleBuilt();
