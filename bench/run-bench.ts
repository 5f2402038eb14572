// npm run bench — Gatehouse against a bare undici proxy, both in front of the same fake upstream, in one run.
// `npm run bench -- codex-200k` (or codex-45k, chat-tiny, soak, tiny, guardrail, guardrail-hook; several allowed) runs only those:
// the Codex-shaped and translated scenarios of bench/scenario-bench.ts, and the 60 s soak at c=64
// (--soak-seconds N), which fails the run on any non-2xx. With no names everything runs.
// Added latency per hop is read at concurrency 1; throughput and CPU time per request at concurrency 64.
// This machine's cores change speed from second to second, so every figure is the median of three runs.
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { BENCH_HEADERS, benchBody, cpuMicros, startBenchServer, stopBenchServer } from './bench-servers.ts';
import { median, rotated } from './bench-stats.ts';

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { quick: { type: 'boolean' }, seconds: { type: 'string' }, runs: { type: 'string' }, 'soak-seconds': { type: 'string' } } });
const KNOWN = ['tiny', 'codex-45k', 'codex-200k', 'chat-tiny', 'soak', 'guardrail', 'guardrail-hook'];
for (const name of positionals) if (!KNOWN.includes(name)) throw new Error(`unknown benchmark "${name}": use ${KNOWN.join(', ')}`);
const selected = (name: string) => positionals.length === 0 || positionals.includes(name);
const SOAK_SECONDS = Number(flags['soak-seconds'] ?? 60);
const SECONDS = Number(flags.seconds ?? (flags.quick ? 2 : 4));
const RUNS = Number(flags.runs ?? (flags.quick ? 1 : 3));
const SEQUENTIAL_REQUESTS = flags.quick ? 300 : 1500;

interface Server {
  name: string;
  url: string;
  process: ChildProcess;
}

async function start(name: string, file: string, environment: Record<string, string> = {}): Promise<Server> {
  const { child, port } = await startBenchServer(file, environment);
  return { name, url: `http://127.0.0.1:${port}/v1`, process: child };
}

async function concurrent(server: Server, stream: boolean): Promise<{ rps: number; p50: number; p99: number; cpuPerRequestMicros: number }> {
  const cpuBefore = await cpuMicros(server.process);
  const result = await autocannon({ url: `${server.url}/responses`, method: 'POST', headers: BENCH_HEADERS, body: benchBody(stream), connections: 64, duration: SECONDS });
  const cpuAfter = await cpuMicros(server.process);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${server.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuPerRequestMicros: (cpuAfter - cpuBefore) / result.requests.total };
}

const upstream = await start('upstream', './fake-upstream-server.ts');
const bare = await start('bare proxy', './bare-proxy-server.ts', { UPSTREAM_URL: upstream.url });
const gatehouse = await start('gatehouse', './gatehouse-server.ts', { UPSTREAM_URL: upstream.url });
// The same gateway translating Responses to a Chat Completions upstream: what translation adds.
const translated = await start('translated', './gatehouse-server.ts', { UPSTREAM_URL: upstream.url, TRANSLATED_PROVIDER_TYPE: 'openai-chat' });
const targets = [upstream, bare, gatehouse, translated];

type Figures = { c1p50: number; ttfb: number; rps: number; p50: number; p99: number; cpu: number };
const results: Record<string, Record<string, Figures[]>> = {};
console.log(`Gatehouse benchmark: ${RUNS} run(s), ${SECONDS}s per concurrency-64 measurement, ${SEQUENTIAL_REQUESTS} sequential requests at concurrency 1\n`);
const { runScenario, printScenario, runSoak, sequentialMedians } = await import('./scenario-bench.ts');
for (let run = 1; run <= (selected('tiny') ? RUNS : 0); run += 1) {
  for (const stream of [false, true]) {
    const mode = stream ? 'streaming (20 chunks)' : 'non-streaming';
    // c=1 of all targets in interleaved blocks (bench/scenario-bench.ts), then c=64 of each, each run in another order.
    const order = rotated(targets, run);
    const c1 = await sequentialMedians(order, '/responses', BENCH_HEADERS, benchBody(stream), SEQUENTIAL_REQUESTS);
    for (const target of order) {
      const con = await concurrent(target, stream);
      const seq = c1.get(target.name) ?? { p50: Number.NaN, ttfbP50: Number.NaN };
      ((results[mode] ??= {})[target.name] ??= []).push({ c1p50: seq.p50, ttfb: seq.ttfbP50, rps: con.rps, p50: con.p50, p99: con.p99, cpu: con.cpuPerRequestMicros });
      process.stdout.write(`  run ${run} · ${mode} · ${target.name}: c=1 p50 ${seq.p50.toFixed(3)} ms · ${con.rps.toFixed(0)} req/s\n`);
    }
  }
}

const summary: Record<string, unknown> = {};
for (const [mode, byTarget] of Object.entries(results)) {
  const med = (name: string, field: keyof Figures) => median((byTarget[name] ?? []).map((figures) => figures[field]));
  console.log(`\n${mode}`);
  console.log('  target        c=1 p50 ms  c=1 TTFB ms  c=64 req/s  c=64 p50 ms  c=64 p99 ms  CPU µs/req');
  for (const target of targets) {
    const name = target.name;
    console.log(
      `  ${name.padEnd(12)}  ${med(name, 'c1p50').toFixed(3).padStart(10)}  ${med(name, 'ttfb').toFixed(3).padStart(11)}  ${med(name, 'rps').toFixed(0).padStart(10)}  ${med(name, 'p50').toFixed(1).padStart(11)}  ${med(name, 'p99').toFixed(1).padStart(11)}  ${name === 'upstream' ? '' : med(name, 'cpu').toFixed(0).padStart(10)}`,
    );
  }
  // The c=1 figures of one run share a stretch of time: a difference is the median of the per-run differences.
  const difference = (name: string, base: string, field: keyof Figures) => median((byTarget[name] ?? []).map((figures, run) => figures[field] - (byTarget[base]?.[run]?.[field] ?? Number.NaN)));
  const addedBare = difference('bare proxy', 'upstream', 'c1p50');
  const addedGatehouse = difference('gatehouse', 'upstream', 'c1p50');
  const figures = {
    throughput_ratio: med('gatehouse', 'rps') / med('bare proxy', 'rps'),
    added_p50_ms_over_bare_proxy: difference('gatehouse', 'bare proxy', 'c1p50'),
    hop_added_p50_ms: { bare_proxy: addedBare, gatehouse: addedGatehouse },
    ttfb_overhead_ms_over_bare_proxy: difference('gatehouse', 'bare proxy', 'ttfb'),
    cpu_ratio: med('gatehouse', 'cpu') / med('bare proxy', 'cpu'),
  };
  const translationAdded = difference('translated', 'gatehouse', 'c1p50');
  Object.assign(figures, { translation_added_p50_ms: translationAdded, translated_throughput_ratio: med('translated', 'rps') / med('bare proxy', 'rps') });
  summary[mode] = figures;
  // Throughput on two shared cores follows CPU per request (issue #17 retired issue #2's 0.75× throughput target for CPU and latency).
  console.log(`  → throughput gatehouse ÷ bare proxy: ${figures.throughput_ratio.toFixed(2)}× (follows CPU per request on these shared cores)`);
  console.log(`  → added latency per hop at c=1: bare proxy ${addedBare.toFixed(3)} ms, gatehouse ${addedGatehouse.toFixed(3)} ms → gatehouse adds ${figures.added_p50_ms_over_bare_proxy.toFixed(3)} ms over the bare proxy (target ≤ 0.3)`);
  console.log(`  → TTFB overhead over the bare proxy: ${figures.ttfb_overhead_ms_over_bare_proxy.toFixed(3)} ms (target ≤ 1 ms) · CPU per request ${figures.cpu_ratio.toFixed(2)}× the bare proxy`);
  console.log(`  → translation (Responses → Chat Completions upstream) adds ${translationAdded.toFixed(3)} ms p50 over pass-through at c=1 (target ≤ 0.2)`);
}

const scenarioTargets = [
  { name: 'upstream' as const, url: upstream.url, process: upstream.process },
  { name: 'bare proxy' as const, url: bare.url, process: bare.process },
  { name: 'gatehouse' as const, url: gatehouse.url, process: gatehouse.process },
];
for (const name of ['codex-45k', 'codex-200k', 'chat-tiny'] as const) {
  if (!selected(name)) continue;
  // chat-tiny is translated (Chat to the Responses upstream); the gateway with a Chat provider passes the same request through.
  const targets = name === 'chat-tiny' ? [...scenarioTargets, { name: 'gatehouse pass-through' as const, url: translated.url, process: translated.process }] : scenarioTargets;
  const figures = await runScenario(name, targets, { runs: RUNS, seconds: SECONDS, sequentialRequests: flags.quick ? 100 : 400 });
  printScenario(figures);
  summary[name] = figures;
}
if (selected('guardrail')) {
  // The secret guardrail's cost per turn of a 200 KB Codex session (bench/guardrail-bench.ts prints it).
  console.log('');
  await import('./guardrail-bench.ts');
}
if (selected('guardrail-hook')) {
  // The guardrail hook's cost per turn of a 200 KB Codex session, classifier on loopback (bench/guardrail-hook-bench.ts).
  console.log('');
  await import('./guardrail-hook-bench.ts');
}
let soakFailed = false;
if (selected('soak')) {
  console.log(`\nsoak: ${SOAK_SECONDS} s at 64 connections (32 Codex 45 KB pass-through + 32 Chat translated), healthy upstream`);
  const soak = await runSoak({ name: 'gatehouse', url: gatehouse.url, process: gatehouse.process }, SOAK_SECONDS);
  console.log(`  pass-through ${soak.passthrough.requests} requests, ${soak.passthrough.non2xx} non-2xx, ${soak.passthrough.errors} errors · translated ${soak.translated.requests} requests, ${soak.translated.non2xx} non-2xx, ${soak.translated.errors} errors`);
  soakFailed = soak.passthrough.non2xx + soak.passthrough.errors + soak.translated.non2xx + soak.translated.errors > 0;
  if (soakFailed) console.log('  → FAILED: the soak must end with zero non-2xx');
  summary.soak = soak;
}

// Micro-benchmarks of the parts, each in this process (in a full run only).
if (positionals.length === 0) {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const { runTranslationBench } = await import('./translation-bench.ts');
  const { runBudgetBench } = await import('./budget-bench.ts');
  const { runEvaluatorBench } = await import('./evaluator-bench.ts');
  const translation = await runTranslationBench({ iterations: flags.quick ? 100 : 300 });
  console.log('\ntranslation of a 38.8 KB Codex request and a 20-chunk stream, p50 µs per request:');
  for (const [provider, phases] of Object.entries(translation.providers)) console.log(`  ${provider.padEnd(13)} request ${JSON.stringify(phases.request)}  stream ${JSON.stringify(phases.stream20)}`);
  summary.translation = translation;
  const budgets = await runBudgetBench({ redisUrl }).catch((error: unknown) => ({ error: (error as Error).message }));
  console.log(`\nbudget check (scopes + reserve + settle): ${JSON.stringify(budgets)}`);
  summary.budgets = budgets;
  for (const mode of [undefined, redisUrl]) {
    const evaluator = await runEvaluatorBench({ sessions: flags.quick ? 150 : 400, redisUrl: mode }).catch((error: unknown) => ({ error: (error as Error).message }));
    console.log(`\nevaluator (${mode ? 'distributed, BullMQ on Redis' : 'embedded'}): ${JSON.stringify(evaluator)}`);
    summary[`evaluator_${mode ? 'distributed' : 'embedded'}`] = evaluator;
  }
}

console.log(`\nJSON ${JSON.stringify(summary)}`);
for (const server of [gatehouse, translated]) await stopBenchServer(server.process);
upstream.process.kill();
bare.process.kill();
if (soakFailed) process.exitCode = 1;
