// CPU per request by thread and code (JavaScript, V8/Node builtins, kernel, chDB), from Linux `perf`:
// `node bench/perf-gateway.ts [seconds]` with TARGET=bare|gatehouse, DISABLE=…, STREAM=1, SORT=comm,dso,sym,
// SCENARIO=tiny|codex-45k|codex-200k|chat-tiny, CONNECTIONS=64.
// Unlike the V8 profiler this counts on-CPU time only (software clock: no hardware counters needed)
// and sees the kernel and V8's helper threads. Needs `perf` (Debian: linux-perf) and root or
// kernel.perf_event_paranoid ≤ 1. Data goes to .test-tmp/perf-<target>.data for `perf report`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import autocannon from 'autocannon';
import { startBenchServer, stopBenchServer } from './bench-servers.ts';
import { isScenario, scenario } from './bench-scenarios.ts';

const seconds = Number(process.argv[2] ?? 5);
const target = process.env.TARGET === 'bare' ? 'bare' : 'gatehouse';
const SAMPLE_HZ = 4999;

try {
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('perf is not installed: apt-get install linux-perf (or use bench/profile-gateway.ts, the V8 profiler)');
  process.exit(1);
}
const upstream = await startBenchServer('fake-upstream-server.ts');
// --perf-basic-prof writes /tmp/perf-<pid>.map so perf can name JIT-compiled JavaScript functions.
const server = await startBenchServer(target === 'bare' ? 'bare-proxy-server.ts' : 'gatehouse-server.ts', { UPSTREAM_URL: `http://127.0.0.1:${upstream.port}/v1` }, ['--perf-basic-prof']);
const shape = scenario(isScenario(process.env.SCENARIO ?? '') ? (process.env.SCENARIO as never) : 'tiny', process.env.STREAM === '1');
const options = { url: `http://127.0.0.1:${server.port}/v1${shape.path}`, method: 'POST' as const, headers: shape.headers, body: shape.body, connections: Number(process.env.CONNECTIONS ?? 64) };
await autocannon({ ...options, duration: 2 });
mkdirSync('.test-tmp', { recursive: true });
const data = `.test-tmp/perf-${target}.data`;
const recorder = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(SAMPLE_HZ), '-p', String(server.child.pid), '-o', data], { stdio: 'ignore' });
await new Promise((resolve) => setTimeout(resolve, 300));
const result = await autocannon({ ...options, duration: seconds });
recorder.kill('SIGINT');
await new Promise((resolve) => recorder.once('exit', resolve));
const report = execFileSync('perf', ['report', '-i', data, '--no-children', '--sort', process.env.SORT ?? 'comm,dso', '--stdio', '-n'], { maxBuffer: 1 << 28 }).toString();
const microsPerSample = 1e6 / SAMPLE_HZ;
const rows: string[] = [];
let samples = 0;
for (const line of report.split('\n')) {
  const match = /^\s+([\d.]+)%\s+(\d+)\s+(.*)$/.exec(line);
  if (!match) continue;
  samples += Number(match[2]);
  rows.push(`${(match[1] ?? '').padStart(6)}% ${((Number(match[2]) * microsPerSample) / result.requests.total).toFixed(1).padStart(7)} µs  ${(match[3] ?? '').replace(/\s+/g, ' ').slice(0, 140)}`);
}
console.log(`${target}${process.env.DISABLE ? ` (DISABLE=${process.env.DISABLE})` : ''}: ${result.requests.average.toFixed(0)} req/s, ${((samples * microsPerSample) / result.requests.total).toFixed(1)} µs CPU per request on all threads`);
console.log(rows.slice(0, Number(process.env.TOP ?? 40)).join('\n'));
await stopBenchServer(server.child);
upstream.child.kill();
