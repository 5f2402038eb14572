// Interleaved A/B rounds at concurrency 64: `node bench/compare.ts [--rounds 5] [--seconds 3] [--stream] variant…`
// This machine's cores change speed from minute to minute, so variants are measured in turns, round
// after round, and compared by medians of throughput and of the server's CPU time per request (all threads).
// A variant is `bare`, `bare-cluster[WORKERS=2]` (the bare proxy in that many processes on one port),
// `gatehouse`, `gatehouse[DISABLE=tracing,metrics]` (environment for that server) or
// `gatehouse@/path/to/other/checkout` (the same server from another tree, e.g. a `git worktree` of main);
// `EXEC_ARGV=…` in the brackets passes V8/Node flags to that server (`gatehouse[EXEC_ARGV=--max-semi-space-size=32]`).
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { BENCH_HEADERS, benchBody, cpuMicros, startBenchServer, stopBenchServer } from './bench-servers.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, seconds: { type: 'string' }, stream: { type: 'boolean' }, connections: { type: 'string' } },
});
const ROUNDS = Number(flags.rounds ?? 5);
const SECONDS = Number(flags.seconds ?? 3);
const CONNECTIONS = Number(flags.connections ?? 64);
const variants = positionals.length > 0 ? positionals : ['bare', 'gatehouse'];

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
  const match = /^(bare|bare-cluster|gatehouse)(?:\[([^\]]*)\])?(?:@(.+))?$/.exec(spec);
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const upstream = await start('fake-upstream-server.ts', {});
const running: Running[] = [];
for (const spec of variants) {
  const { file, environment } = parseVariant(spec);
  running.push({ spec, ...(await start(file, { ...environment, UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1` })) });
}
const body = benchBody(flags.stream === true);
const results = new Map<string, { rps: number[]; cpu: number[] }>(variants.map((spec) => [spec, { rps: [], cpu: [] }]));
console.log(`${ROUNDS} interleaved rounds of ${SECONDS}s at concurrency ${CONNECTIONS}, ${flags.stream ? 'streaming' : 'non-streaming'}`);
for (let round = 0; round <= ROUNDS; round += 1) {
  // Each round starts with another variant: measured in a fixed order, the first one came out ~4% slower.
  for (const target of [...running.slice(round % running.length), ...running.slice(0, round % running.length)]) {
    const options = { url: `http://127.0.0.1:${target.port}/v1/responses`, method: 'POST' as const, headers: BENCH_HEADERS, body, connections: CONNECTIONS };
    const before = await cpuMicros(target.child);
    const result = await autocannon({ ...options, duration: round === 0 ? 1 : SECONDS });
    const after = await cpuMicros(target.child);
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.spec}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    if (round === 0) continue; // warm-up: JIT and connection pools
    const figures = results.get(target.spec);
    figures?.rps.push(result.requests.average);
    figures?.cpu.push((after - before) / result.requests.total);
  }
  if (round > 0) process.stdout.write(`  round ${round}: ${running.map((target) => `${target.spec} ${results.get(target.spec)?.rps.at(-1)?.toFixed(0)} req/s`).join(' · ')}\n`);
}
const baseline = results.get(variants[0] ?? '');
console.log(`\nvariant${' '.repeat(40)}req/s (median)  ÷ first   CPU µs/req  ÷ first`);
for (const spec of variants) {
  const figures = results.get(spec);
  if (!figures || !baseline) continue;
  const rps = median(figures.rps);
  const cpu = median(figures.cpu);
  console.log(`${spec.padEnd(47)} ${rps.toFixed(0).padStart(14)}  ${(rps / median(baseline.rps)).toFixed(2).padStart(7)}  ${cpu.toFixed(0).padStart(11)}  ${(cpu / median(baseline.cpu)).toFixed(2).padStart(7)}`);
}
for (const target of running) await stopBenchServer(target.child);
upstream.child.kill();
