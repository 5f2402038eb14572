// Profiles the gateway's request path only (start-up excluded): `node bench/profile-gateway.ts [seconds] [concurrency]`.
// The gateway runs in its own process (as in `npm run bench`) and is sampled only while the load runs;
// the load generator stays out of the profile. TARGET=bare profiles the bare proxy; STREAM=1 for streaming, DISABLE=… to switch parts off.
// Writes .test-tmp/gateway.cpuprofile (open it in Chrome DevTools) and prints the functions with the most self time.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Profiler } from 'node:inspector';
import autocannon from 'autocannon';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 64);

function start(file: string, environment: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], { env: { ...process.env, ...environment }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve) => child.once('message', (message: { port: number }) => resolve({ child, port: message.port })));
}

function ask<T>(child: ChildProcess, message: string, field: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (answer: Record<string, unknown>) => {
      if (!(field in answer)) return;
      child.off('message', listener);
      resolve(answer[field] as T);
    };
    child.on('message', listener);
    child.send(message);
  });
}

const upstream = await start('./fake-upstream-server.ts');
const gateway = await start(process.env.TARGET === 'bare' ? './bare-proxy-server.ts' : './gatehouse-server.ts', { UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1` });
const options = {
  url: `http://127.0.0.1:${gateway.port}/v1/responses`,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', authorization: 'Bearer vk_bench' },
  body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello twenty times.' }] }], stream: process.env.STREAM === '1' }),
  connections,
};
await autocannon({ ...options, duration: 2 });
const cpuBefore = await ask<{ user: number; system: number }>(gateway.child, 'cpu', 'cpu');
await ask(gateway.child, 'profile:start', 'profiling');
const result = await autocannon({ ...options, duration: seconds });
const profile = await ask<Profiler.Profile>(gateway.child, 'profile:stop', 'profile');
const cpuAfter = await ask<{ user: number; system: number }>(gateway.child, 'cpu', 'cpu');
mkdirSync('.test-tmp', { recursive: true });
writeFileSync('.test-tmp/gateway.cpuprofile', JSON.stringify(profile));
const cpuMicros = cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
console.log(`${result.requests.average.toFixed(0)} req/s, gateway CPU ${(cpuMicros / result.requests.total).toFixed(0)} µs/request (all threads, profiler on)`);

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
profile.samples?.forEach((id, index) => {
  const node = nodes.get(id);
  const delta = profile.timeDeltas?.[index] ?? 0;
  total += delta;
  if (!node) return;
  const frame = node.callFrame;
  const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/work\/[^/]+\//, '')}:${frame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + delta);
});
const perRequest = (micros: number) => (micros / result.requests.total).toFixed(1).padStart(6);
console.log('self time: % of samples, µs per request');
for (const [key, value] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 45))) console.log(`${((value / total) * 100).toFixed(1).padStart(5)}% ${perRequest(value)}  ${key}`);
gateway.child.send('stop');
await new Promise((resolve) => gateway.child.once('exit', resolve));
upstream.child.kill();
