// Where one request's time goes inside a hop, at one request at a time: `node bench/request-timeline.ts
// [--scenario codex-200k] [--requests 1500]`. The bare proxy and Gatehouse each get the same sequential
// requests (after 300 untimed ones), with bench/request-timeline-hooks.ts preloaded; the medians of each
// phase are printed side by side, so what Gatehouse adds shows up where it is spent (the body read, the
// decisions before the upstream request, the end of the response after the upstream's).
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { ask, startBenchServer, stopBenchServer } from './bench-servers.ts';
import { isScenario, scenario } from './bench-scenarios.ts';

const { values: flags } = parseArgs({ options: { scenario: { type: 'string' }, requests: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (flags.help) {
  console.log('usage: node bench/request-timeline.ts [--scenario tiny|codex-45k|codex-200k|chat-tiny] [--requests 1500]\nMedian µs of each phase of a request inside the bare proxy and inside Gatehouse, at concurrency 1.');
  process.exit(0);
}
const scenarioName = flags.scenario ?? 'codex-200k';
if (!isScenario(scenarioName)) throw new Error(`unknown scenario "${scenarioName}": tiny, codex-45k, codex-200k or chat-tiny`);
const count = Number(flags.requests ?? 1500);
const shape = scenario(scenarioName);
const hooks = new URL('./request-timeline-hooks.ts', import.meta.url).pathname;

interface Timeline {
  requests: number;
  steps: { from: string; to: string; micros: number }[];
}

const upstream = await startBenchServer('fake-upstream-server.ts');
const timelines: Record<string, Timeline> = {};
for (const [name, file] of [['bare proxy', 'bare-proxy-server.ts'], ['gatehouse', 'gatehouse-server.ts']] as const) {
  const server = await startBenchServer(file, { UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1` }, ['--import', hooks]);
  const agent = new Agent({ connections: 1 });
  for (let index = 0; index < count + 300; index += 1) {
    if (index === 300) server.child.send('timeline:reset');
    const response = await request(`http://127.0.0.1:${server.port}/v1${shape.path}`, { method: 'POST', headers: shape.headers, body: shape.body, dispatcher: agent });
    await response.body.arrayBuffer();
    if (response.statusCode !== 200) throw new Error(`${name}: HTTP ${response.statusCode}`);
  }
  timelines[name] = await ask<Timeline>(server.child, 'timeline', 'timeline');
  await agent.close();
  await stopBenchServer(server.child);
}
upstream.child.kill();

console.log(`${scenarioName} (${(Buffer.byteLength(shape.body) / 1024).toFixed(1)} KB), median µs per phase at c=1:`);
console.log(`  ${'phase'.padEnd(52)} ${'bare proxy'.padStart(10)} ${'gatehouse'.padStart(10)}`);
const bare = timelines['bare proxy'] as Timeline;
const gatehouse = timelines.gatehouse as Timeline;
bare.steps.forEach((step, index) => {
  console.log(`  ${`${step.from} → ${step.to}`.padEnd(52)} ${step.micros.toFixed(0).padStart(10)} ${(gatehouse.steps[index]?.micros ?? Number.NaN).toFixed(0).padStart(10)}`);
});
