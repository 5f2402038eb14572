// Profiles the gateway's request path only (start-up excluded): `node bench/profile-gateway.ts [seconds] [concurrency]`.
// Writes a .cpuprofile under .test-tmp/ and prints the functions with the most self time.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 16);
const upstream = fork(fileURLToPath(new URL('./fake-upstream-server.ts', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const upstreamPort: number = await new Promise((resolve) => upstream.once('message', (message: { port: number }) => resolve(message.port)));
process.env.UPSTREAM_URL = `http://127.0.0.1:${upstreamPort}/v1`;
const { startGatehouse } = await import('../cli/start-gatehouse.ts');
const { mkdtempSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { stringify } = await import('yaml');
const folder = mkdtempSync(join(tmpdir(), 'gatehouse-profile-'));
writeFileSync(join(folder, 'policy.yaml'), stringify({ models: { 'gpt-5.5': { provider: 'upstream', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } } }, cost_centers: { bench: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1e6 } } } }, keys: [{ key: 'vk_bench', developer: 'bench', cost_center: 'bench' }] }));
writeFileSync(join(folder, 'gatehouse.yaml'), stringify({ server: { port: 0 }, data_dir: join(folder, 'data'), providers: { upstream: { type: process.env.PROVIDER_TYPE ?? 'openai', base_url: process.env.UPSTREAM_URL, api_key: 'sk' } }, policy: 'policy.yaml', logging: { level: 'warn' } }));
const gatehouse = await startGatehouse({ configFile: join(folder, 'gatehouse.yaml'), environment: {}, roles: ['gateway', 'collector'] });
for (const part of (process.env.DISABLE ?? '').split(',').filter(Boolean)) {
  // Experiments: measure what one part of the request path costs by switching it off.
  const context = gatehouse.context as unknown as Record<string, unknown>;
  if (part === 'tracing') context.tracing = { recordTurn: () => ({ traceId: '', spanId: '' }), forceFlush: async () => {}, shutdown: async () => {} };
  else if (part === 'metrics') {
    const noop = { inc() {}, observe() {} };
    Object.assign(gatehouse.context.metrics, { requests: noop, latency: noop, ttfb: noop });
  } else if (part === 'storage') (gatehouse.writer as unknown as { write: () => void }).write = () => {};
  else context[part] = undefined;
}
const options = { url: `${gatehouse.url}/v1/responses`, method: 'POST' as const, headers: { 'content-type': 'application/json', authorization: 'Bearer vk_bench' }, body: JSON.stringify({ model: 'gpt-5.5', input: 'hi', stream: process.env.STREAM === '1' }), connections };
await autocannon({ ...options, duration: 2 });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const cpuBefore = process.cpuUsage();
const result = await autocannon({ ...options, duration: seconds });
const cpu = process.cpuUsage(cpuBefore);
const { profile } = await session.post('Profiler.stop');
mkdirSync('.test-tmp', { recursive: true });
writeFileSync('.test-tmp/gateway.cpuprofile', JSON.stringify(profile));
console.log(`${result.requests.average.toFixed(0)} req/s (load generator in the same process), ${((cpu.user + cpu.system) / result.requests.total).toFixed(0)} µs CPU/request incl. load generator`);
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
profile.samples?.forEach((id, index) => {
  const node = nodes.get(id);
  const delta = profile.timeDeltas?.[index] ?? 0;
  total += delta;
  if (!node) return;
  const frame = node.callFrame;
  const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/work\/main\//, '')}:${frame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + delta);
});
for (const [key, value] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${((value / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
await gatehouse.close();
upstream.kill();
