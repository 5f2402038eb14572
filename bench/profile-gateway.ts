// Profiles the gateway's request path only (start-up excluded): `node bench/profile-gateway.ts [seconds] [concurrency]`.
// The gateway runs in its own process (as in `npm run bench`) and is sampled only while the load runs;
// the load generator stays out of the profile. TARGET=bare profiles the bare proxy; STREAM=1 for streaming, DISABLE=… to switch parts off.
// Writes .test-tmp/gateway.cpuprofile (open it in Chrome DevTools) and prints the functions with the most self time.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Profiler } from 'node:inspector';
import autocannon from 'autocannon';
import { ask, cpuMicros, startBenchServer, stopBenchServer } from './bench-servers.ts';
import { isScenario, scenario } from './bench-scenarios.ts';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 64);

const upstream = await startBenchServer('fake-upstream-server.ts');
const gateway = await startBenchServer(process.env.TARGET === 'bare' ? 'bare-proxy-server.ts' : 'gatehouse-server.ts', { UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1`, ...(process.env.TRANSLATED_PROVIDER_TYPE ? { TRANSLATED_PROVIDER_TYPE: process.env.TRANSLATED_PROVIDER_TYPE } : {}) });
const request = scenario(isScenario(process.env.SCENARIO ?? '') ? (process.env.SCENARIO as never) : 'tiny', process.env.STREAM === '1');
const options = { url: `http://127.0.0.1:${gateway.port}/v1${request.path}`, method: 'POST' as const, headers: request.headers, body: request.body, connections };
await autocannon({ ...options, duration: 2 });
const cpuBefore = await cpuMicros(gateway.child);
await ask(gateway.child, 'profile:start', 'profiling');
const result = await autocannon({ ...options, duration: seconds });
const profile = await ask<Profiler.Profile>(gateway.child, 'profile:stop', 'profile');
const cpuAfter = await cpuMicros(gateway.child);
mkdirSync('.test-tmp', { recursive: true });
writeFileSync('.test-tmp/gateway.cpuprofile', JSON.stringify(profile));
console.log(`${result.requests.average.toFixed(0)} req/s, gateway CPU ${((cpuAfter - cpuBefore) / result.requests.total).toFixed(0)} µs/request (all threads, profiler on)`);

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
await stopBenchServer(gateway.child);
upstream.child.kill();
