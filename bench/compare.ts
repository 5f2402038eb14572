// Interleaved A/B rounds: `node bench/compare.ts [--rounds 5] [--seconds 3] [--stream] [--connections 64] [--scenario tiny|codex-45k|codex-200k|chat-tiny] variant…`
// This machine's cores change speed from minute to minute, so variants are measured in turns, round
// after round, and compared by medians of throughput and of the server's CPU time per request (all threads,
// and the main thread alone: the event loop's work, less disturbed when other load shares the cores).
// A variant is `bare`, `bare-cluster[WORKERS=2]` (the bare proxy in that many processes on one port),
// `gatehouse`, `gatehouse[DISABLE=tracing,metrics]` (environment for that server) or
// `gatehouse@/path/to/other/checkout` (the same server from another tree, e.g. a `git worktree` of main);
// `EXEC_ARGV=…` in the brackets passes V8/Node flags to that server (`gatehouse[EXEC_ARGV=--max-semi-space-size=32]`);
// `upstream` is the fake upstream itself (no hop), so `bare` and `gatehouse` minus `upstream` is what each hop adds.
// With `--connections 1` requests go one after another and latencies are timed to the microsecond.
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuMicros, mainThreadMicros, startBenchServer, stopBenchServer } from './bench-servers.ts';
import { isScenario, scenario } from './bench-scenarios.ts';
import { median, rotated } from './bench-stats.ts';
import { Agent, request } from 'undici';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, seconds: { type: 'string' }, stream: { type: 'boolean' }, connections: { type: 'string' }, scenario: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (flags.help) {
  console.log(`Interleaved A/B rounds of bench servers, compared by medians.

usage: node bench/compare.ts [--rounds 5] [--seconds 3] [--connections 64] [--stream] [--scenario tiny|codex-45k|codex-200k|chat-tiny] variant…

variants: upstream · bare · bare-cluster[WORKERS=2] · gatehouse · gatehouse[NAME=value,…] (environment,
EXEC_ARGV=… for V8/Node flags) · gatehouse@/path/to/other/tree (e.g. a git worktree of main)`);
  process.exit(0);
}
const ROUNDS = Number(flags.rounds ?? 5);
const SECONDS = Number(flags.seconds ?? 3);
const CONNECTIONS = Number(flags.connections ?? 64);
const variants = positionals.length > 0 ? positionals : ['bare', 'gatehouse'];
const SCENARIO = flags.scenario ?? 'tiny';
if (!isScenario(SCENARIO)) throw new Error(`unknown scenario "${SCENARIO}": tiny, codex-45k, codex-200k or chat-tiny`);

interface Running {
  spec: string;
  child: ChildProcess;
  port: number;
}

const children: ChildProcess[] = [];
// A server that fails to start must not leave the others running.
process.on('exit', () => children.forEach((child) => child.kill()));

async function start(file: string, environment: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const { EXEC_ARGV: execArgv = '', ...env } = environment;
  const started = await startBenchServer(file, env, execArgv.split(' ').filter(Boolean));
  children.push(started.child);
  return started;
}

function parseVariant(spec: string): { file: string; environment: Record<string, string> } {
  const match = /^(upstream|bare|bare-cluster|gatehouse)(?:\[([^\]]*)\])?(?:@(.+))?$/.exec(spec);
  if (!match) throw new Error(`unknown variant "${spec}": use bare, bare-cluster[WORKERS=2], gatehouse, gatehouse[NAME=value,…] or gatehouse@/path/to/tree`);
  const [, kind, settings, tree] = match;
  const root = tree ? resolve(tree) : resolve(import.meta.dirname, '..');
  const environment: Record<string, string> = {};
  for (const pair of (settings ?? '').split(/,(?=[A-Z_]+=)/).filter(Boolean)) {
    const [name, ...value] = pair.split('=');
    environment[name ?? ''] = value.join('=');
  }
  const files: Record<string, string> = { bare: 'bench/bare-proxy-server.ts', 'bare-cluster': 'bench/bare-proxy-cluster.ts', gatehouse: 'bench/gatehouse-server.ts' };
  return { file: resolve(root, files[kind ?? ''] ?? ''), environment };
}


const upstream = await start('fake-upstream-server.ts', {});
const running: Running[] = [];
for (const spec of variants) {
  if (spec === 'upstream') {
    running.push({ spec, ...upstream });
    continue;
  }
  const { file, environment } = parseVariant(spec);
  running.push({ spec, ...(await start(file, { ...environment, UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1` })) });
}
const requestShape = scenario(SCENARIO, flags.stream === true);
interface Measured {
  rps: number;
  cpu: number;
  /** The main thread's CPU time per request (see mainThreadMicros). */
  main: number;
  p50: number;
  p99: number;
}
const results = new Map<string, Measured[]>(variants.map((spec) => [spec, []]));
console.log(`${ROUNDS} interleaved rounds of ${SECONDS}s at concurrency ${CONNECTIONS}, scenario ${SCENARIO} (${Buffer.byteLength(requestShape.body)} bytes)${flags.stream ? ', streaming' : ''}`);

/** One request after another for `seconds`: latencies to the microsecond. */
async function sequential(url: string, seconds: number): Promise<{ total: number; latencies: number[] }> {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    const response = await request(url, { method: 'POST', headers: requestShape.headers, body: requestShape.body, dispatcher: agent });
    await response.body.arrayBuffer();
    if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
    latencies.push(performance.now() - started);
  }
  await agent.close();
  return { total: latencies.length, latencies: latencies.sort((a, b) => a - b) };
}

async function measure(target: Running, seconds: number): Promise<Measured> {
  const url = `http://127.0.0.1:${target.port}/v1${requestShape.path}`;
  const before = await cpuMicros(target.child);
  const mainBefore = await mainThreadMicros(target.child);
  if (CONNECTIONS === 1) {
    const { total, latencies } = await sequential(url, seconds);
    const after = await cpuMicros(target.child);
    const mainAfter = await mainThreadMicros(target.child);
    const at = (share: number) => latencies[Math.min(latencies.length - 1, Math.floor(share * latencies.length))] ?? Number.NaN;
    return { rps: total / seconds, cpu: (after - before) / total, main: (mainAfter - mainBefore) / total, p50: at(0.5), p99: at(0.99) };
  }
  const result = await autocannon({ url, method: 'POST', headers: requestShape.headers, body: requestShape.body, connections: CONNECTIONS, duration: seconds });
  const after = await cpuMicros(target.child);
  const mainAfter = await mainThreadMicros(target.child);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.spec}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const total = result.requests.total;
  return { rps: result.requests.average, cpu: (after - before) / total, main: (mainAfter - mainBefore) / total, p50: result.latency.p50, p99: result.latency.p99 };
}

for (let round = 0; round <= ROUNDS; round += 1) {
  // Each round starts with another variant (see rotated).
  for (const target of rotated(running, round)) {
    const measured = await measure(target, round === 0 ? 1 : SECONDS);
    if (round > 0) results.get(target.spec)?.push(measured); // round 0 warms up JIT and connection pools
  }
  if (round > 0) process.stdout.write(`  round ${round}: ${running.map((target) => `${target.spec} ${results.get(target.spec)?.at(-1)?.rps.toFixed(0)} req/s`).join(' · ')}\n`);
}
const baseline = results.get(variants[0] ?? '') ?? [];
const med = (figures: Measured[], field: keyof Measured) => median(figures.map((figure) => figure[field]));
console.log(`\nvariant${' '.repeat(40)}req/s (median)  ÷ first   CPU µs/req  ÷ first   main µs/req  ÷ first   p50 ms   p99 ms`);
for (const spec of variants) {
  const figures = results.get(spec) ?? [];
  const rps = med(figures, 'rps');
  const cpu = med(figures, 'cpu');
  const main = med(figures, 'main');
  console.log(
    `${spec.padEnd(47)} ${rps.toFixed(0).padStart(14)}  ${(rps / med(baseline, 'rps')).toFixed(2).padStart(7)}  ${cpu.toFixed(0).padStart(11)}  ${(cpu / med(baseline, 'cpu')).toFixed(2).padStart(7)}  ${main.toFixed(0).padStart(11)}  ${(main / med(baseline, 'main')).toFixed(2).padStart(7)}  ${med(figures, 'p50').toFixed(3).padStart(7)}  ${med(figures, 'p99').toFixed(3).padStart(7)}`,
  );
}
console.log(`JSON ${JSON.stringify(Object.fromEntries(variants.map((spec) => [spec, { rps: med(results.get(spec) ?? [], 'rps'), cpu_micros: med(results.get(spec) ?? [], 'cpu'), main_thread_cpu_micros: med(results.get(spec) ?? [], 'main'), p50_ms: med(results.get(spec) ?? [], 'p50'), p99_ms: med(results.get(spec) ?? [], 'p99') }])))}`);
for (const target of running) if (target.spec !== 'upstream') await stopBenchServer(target.child);
upstream.child.kill();
