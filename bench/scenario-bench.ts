// The requests users send, measured against the bare proxy in the same run (issue #17): Codex turns
// whose history is 45 KB and 200 KB, and a short Chat request translated to a Responses upstream.
// Per scenario and run, the targets (the upstream itself, the bare proxy, Gatehouse) get sequential
// requests in interleaved blocks (c=1: latency to the microsecond; what a hop adds is target − upstream),
// then each gets 64 connections (throughput, p50/p99, the server's CPU time per request); figures are
// medians of the runs, and the targets take turns within each run.
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { cpuMicros } from './bench-servers.ts';
import { scenario, type ScenarioName } from './bench-scenarios.ts';
import { median, rotated } from './bench-stats.ts';

export interface BenchTarget {
  /** `gatehouse pass-through`: a gateway whose provider speaks the request's own protocol (chat-tiny: Chat to a Chat upstream). */
  name: 'upstream' | 'bare proxy' | 'gatehouse' | 'gatehouse pass-through';
  /** Base URL ending in /v1. */
  url: string;
  process: ChildProcess;
}

interface RunFigures {
  c1p50: number;
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
}

export interface ScenarioSummary {
  scenario: ScenarioName;
  bytes: number;
  /** Medians per target. */
  targets: Record<string, RunFigures>;
  added_p50_ms_per_hop: { bare_proxy: number; gatehouse: number };
  cpu_ratio: number;
  p99_ratio: number;
  throughput_ratio: number;
  /** With a `gatehouse pass-through` target: Gatehouse's CPU per request translating ÷ passing the same request through. */
  translation_cpu_ratio?: number;
}

/** Requests of each c=1 block; the first ones warm the target's connection and caches and are not timed. */
const BLOCK_REQUESTS = 22;
const BLOCK_WARM_UP = 2;

/**
 * c=1 latency (and time to the first answer byte) of every target, interleaved in short blocks: each target gets
 * `count` timed sequential requests, `BLOCK_REQUESTS` at a time, the targets taking turns block after block. This
 * machine's cores change speed from one second to the next; one target's whole c=1 run after another's measured
 * the machine's drift along with the hop (a target's median moved 0.4 ms between runs), while blocks spread
 * every target over the same stretch of time and still keep each one warm within its block.
 */
export async function sequentialMedians(targets: readonly { name: string; url: string }[], path: string, headers: Record<string, string>, body: string, count: number): Promise<Map<string, { p50: number; ttfbP50: number }>> {
  const agents = new Map(targets.map((target) => [target.name, new Agent({ connections: 1, keepAliveTimeout: 30_000 })]));
  const latencies = new Map<string, number[]>(targets.map((target) => [target.name, []]));
  const ttfbs = new Map<string, number[]>(targets.map((target) => [target.name, []]));
  const blocks = Math.ceil(count / (BLOCK_REQUESTS - BLOCK_WARM_UP));
  for (let block = 0; block < blocks; block += 1) {
    for (const target of rotated(targets, block)) {
      const url = `${target.url}${path}`;
      for (let index = 0; index < BLOCK_REQUESTS; index += 1) {
        const started = performance.now();
        const response = await request(url, { method: 'POST', headers, body, dispatcher: agents.get(target.name) });
        let first = 0;
        for await (const _chunk of response.body) if (first === 0) first = performance.now();
        const ended = performance.now();
        if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
        if (index >= BLOCK_WARM_UP) {
          latencies.get(target.name)?.push(ended - started);
          ttfbs.get(target.name)?.push(first - started);
        }
      }
    }
  }
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  return new Map(targets.map((target) => [target.name, { p50: median(latencies.get(target.name) ?? []), ttfbP50: median(ttfbs.get(target.name) ?? []) }]));
}

async function concurrent(target: BenchTarget, url: string, headers: Record<string, string>, body: string, seconds: number): Promise<Omit<RunFigures, 'c1p50'>> {
  const before = await cpuMicros(target.process);
  const result = await autocannon({ url, method: 'POST', headers, body, connections: 64, duration: seconds });
  const after = await cpuMicros(target.process);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpu: (after - before) / result.requests.total };
}

/** One scenario: `runs` interleaved runs over the targets, medians, ratios to the bare proxy. */
export async function runScenario(name: ScenarioName, targets: BenchTarget[], options: { runs: number; seconds: number; sequentialRequests: number }): Promise<ScenarioSummary> {
  const shape = scenario(name);
  const figures = new Map<string, RunFigures[]>(targets.map((target) => [target.name, []]));
  for (let run = 0; run < options.runs; run += 1) {
    const order = rotated(targets, run);
    // Warm-up: JIT, connection pools, lazily loaded modules.
    for (const target of order) await autocannon({ url: `${target.url}${shape.path}`, method: 'POST', headers: shape.headers, body: shape.body, connections: 16, amount: 300 });
    const c1 = await sequentialMedians(order, shape.path, shape.headers, shape.body, options.sequentialRequests);
    for (const target of order) {
      const c1p50 = c1.get(target.name)?.p50 ?? Number.NaN;
      figures.get(target.name)?.push({ c1p50, ...(await concurrent(target, `${target.url}${shape.path}`, shape.headers, shape.body, options.seconds)) });
      process.stdout.write(`  ${name} run ${run + 1} · ${target.name}: c=1 p50 ${c1p50.toFixed(3)} ms\n`);
    }
  }
  const medianOf = (target: string, field: keyof RunFigures) => median((figures.get(target) ?? []).map((entry) => entry[field]));
  // The c=1 figures of one run were measured over the same stretch of time: a hop's cost is the median
  // of its per-run differences to the upstream alone.
  const addedPerHop = (target: string) => median((figures.get(target) ?? []).map((entry, run) => entry.c1p50 - (figures.get('upstream')?.[run]?.c1p50 ?? Number.NaN)));
  const byTarget = Object.fromEntries(targets.map((target) => [target.name, { c1p50: medianOf(target.name, 'c1p50'), rps: medianOf(target.name, 'rps'), p50: medianOf(target.name, 'p50'), p99: medianOf(target.name, 'p99'), cpu: medianOf(target.name, 'cpu') }]));
  return {
    scenario: name,
    bytes: Buffer.byteLength(shape.body),
    targets: byTarget,
    added_p50_ms_per_hop: { bare_proxy: addedPerHop('bare proxy'), gatehouse: addedPerHop('gatehouse') },
    cpu_ratio: medianOf('gatehouse', 'cpu') / medianOf('bare proxy', 'cpu'),
    p99_ratio: medianOf('gatehouse', 'p99') / medianOf('bare proxy', 'p99'),
    throughput_ratio: medianOf('gatehouse', 'rps') / medianOf('bare proxy', 'rps'),
    ...(figures.has('gatehouse pass-through') ? { translation_cpu_ratio: medianOf('gatehouse', 'cpu') / medianOf('gatehouse pass-through', 'cpu') } : {}),
  };
}

export function printScenario(summary: ScenarioSummary): void {
  console.log(`\n${summary.scenario} (${(summary.bytes / 1024).toFixed(1)} KB request)`);
  console.log('  target                  c=1 p50 ms  c=64 req/s  c=64 p50 ms  c=64 p99 ms  CPU µs/req');
  for (const [name, figures] of Object.entries(summary.targets)) {
    console.log(`  ${name.padEnd(22)}  ${figures.c1p50.toFixed(3).padStart(10)}  ${figures.rps.toFixed(0).padStart(10)}  ${figures.p50.toFixed(1).padStart(11)}  ${figures.p99.toFixed(1).padStart(11)}  ${name === 'upstream' ? '' : figures.cpu.toFixed(0).padStart(10)}`);
  }
  const added = summary.added_p50_ms_per_hop;
  console.log(`  → added p50 per hop at c=1: gatehouse ${added.gatehouse.toFixed(3)} ms, bare proxy ${added.bare_proxy.toFixed(3)} ms`);
  console.log(`  → CPU per request ${summary.cpu_ratio.toFixed(2)}× the bare proxy · c=64 p99 ${summary.p99_ratio.toFixed(2)}× · throughput ${summary.throughput_ratio.toFixed(2)}×`);
  if (summary.translation_cpu_ratio !== undefined) console.log(`  → translated: CPU per request ${summary.translation_cpu_ratio.toFixed(2)}× Gatehouse's own pass-through of the same request (target ≤ 2)`);
}

export interface SoakResult {
  seconds: number;
  passthrough: { requests: number; non2xx: number; errors: number };
  translated: { requests: number; non2xx: number; errors: number };
}

/**
 * The soak: `seconds` at 64 connections in all against Gatehouse and a healthy fake upstream, half
 * Codex-shaped pass-through (45 KB turns), half short Chat requests translated to Responses.
 * Anything but 2xx is a failure (the issue #17 outage was the breaker opening on client hang-ups).
 */
export async function runSoak(gatehouse: BenchTarget, seconds: number): Promise<SoakResult> {
  const passthrough = scenario('codex-45k');
  const translated = scenario('chat-tiny');
  const load = (shape: ReturnType<typeof scenario>) => autocannon({ url: `${gatehouse.url}${shape.path}`, method: 'POST', headers: shape.headers, body: shape.body, connections: 32, duration: seconds, timeout: 30 });
  const [a, b] = await Promise.all([load(passthrough), load(translated)]);
  return {
    seconds,
    passthrough: { requests: a.requests.total, non2xx: a.non2xx, errors: a.errors },
    translated: { requests: b.requests.total, non2xx: b.non2xx, errors: b.errors },
  };
}
