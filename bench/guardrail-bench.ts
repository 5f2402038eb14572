// node bench/guardrail-bench.ts — what the secret guardrail adds per turn of a 200 KB Codex session.
// A real Codex request (test/fixtures) with its history padded by exec_command calls and their outputs
// to ~200 KB, one of them holding a GitHub token; then turn after turn, each adding a call and its output,
// as Codex sends them. The first turn of a session scans everything; every later turn scans only the
// items it adds (the history is resent every turn). Median of the later turns, and the first turn.
import { readFileSync } from 'node:fs';
import { HistoryScanCache, scanConversation } from '../gateway/guardrails/history-scan.ts';
import { MAX_JSON_DEPTH, readJsonBody } from '../gateway/inbound/read-json-body.ts';

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/inbound/codex-cli/responses-request-turn2.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> };
const TARGET_BYTES = Number(process.env.BENCH_HISTORY_BYTES ?? 200_000);
const TURNS = 200;
const output = (index: number) =>
  `Chunk ID: ${index.toString(16)}\nWall time: 0.2000 seconds\nProcess exited with code 0\nOriginal token count: 400\nOutput:\n` +
  `src/module-${index}.ts:${index}: export function handler${index}(request: Request) { return respond(request, ${index}); }\n`.repeat(12);

function historyOf(bytes: number): unknown[] {
  const input = [...(fixture.body.input as unknown[])];
  let index = 0;
  while (JSON.stringify(input).length < bytes) {
    input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `sed -n 1,40p src/module-${index}.ts` }), call_id: `call_${index}` });
    const text = index === 3 ? `GITHUB_TOKEN=ghp_aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zAaB3d\n${output(index)}` : output(index);
    input.push({ type: 'function_call_output', call_id: `call_${index}`, output: text });
    index += 1;
  }
  return input;
}

const cache = new HistoryScanCache();
const input = historyOf(TARGET_BYTES);
const firstStarted = performance.now();
// Bodies as the gateway reads them (readJsonBody: lazy history, the client's bytes kept), so the scan
// fingerprints and splices bytes exactly as it does on a real turn; reading is the gateway's cost, not the guardrail's.
const asRead = () => readJsonBody(Buffer.from(JSON.stringify({ ...fixture.body, input })), MAX_JSON_DEPTH);
let body = asRead();
await scanConversation(cache, 'bench', 'openai-responses', body, []);
const firstMillis = performance.now() - firstStarted;
const later: number[] = [];
for (let turn = 0; turn < TURNS; turn += 1) {
  input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `npm test -- ${turn}` }), call_id: `call_t${turn}` });
  input.push({ type: 'function_call_output', call_id: `call_t${turn}`, output: output(10_000 + turn) });
  body = asRead();
  const started = performance.now();
  const scan = await scanConversation(cache, 'bench', 'openai-responses', body, []);
  later.push(performance.now() - started);
  if (scan.rules['github-token'] !== 1) throw new Error('the planted token was not found');
}
later.sort((a, b) => a - b);
const bytes = JSON.stringify({ ...fixture.body, input }).length;
console.log(`guardrail on a ${(TARGET_BYTES / 1000).toFixed(0)} KB Codex session (${input.length} items, ${(bytes / 1000).toFixed(0)} KB by the last turn):`);
console.log(`  first turn of the session (whole history scanned): ${firstMillis.toFixed(2)} ms`);
console.log(`  later turns (2 new items each): p50 ${later[Math.floor(later.length / 2)]!.toFixed(3)} ms, p90 ${later[Math.floor(later.length * 0.9)]!.toFixed(3)} ms`);
