// node bench/guardrail-hook-bench.ts — what the guardrail hook adds per turn of a 200 KB Codex session.
// A classifier on loopback (it allows everything, answering at once) is asked before the hop, as the gateway
// asks it: only the items the session has not shown it (the history is resent every turn and remembered by a
// hash of its bytes). Reports the added time per later turn (HTTP round trip included) and the bytes sent,
// against sending the whole history each turn.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { HistoryScanCache } from '../gateway/guardrails/history-scan.ts';
import { HookGuard, type HookMemory } from '../gateway/guardrails/guardrail-hook.ts';
import { callHook } from '../gateway/guardrails/hook-client.ts';
import { GuardrailHookSchema } from '../shared/policy/policy-schema.ts';
import type { ResolvedTarget } from '../gateway/forward/forward-types.ts';
import { MAX_JSON_DEPTH, readJsonBody } from '../gateway/inbound/read-json-body.ts';

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/inbound/codex-cli/responses-request-turn2.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> };
const TARGET_BYTES = Number(process.env.BENCH_HISTORY_BYTES ?? 200_000);
const TURNS = 200;
const output = (index: number) =>
  `Chunk ID: ${index.toString(16)}\nWall time: 0.2000 seconds\nProcess exited with code 0\nOriginal token count: 400\nOutput:\n` +
  `src/module-${index}.ts:${index}: export function handler${index}(request: Request) { return respond(request, ${index}); }\n`.repeat(12);

let received = 0;
const server = createServer((request, response) => {
  request.on('data', (chunk: Buffer) => (received += chunk.length));
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"action":"allow"}');
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const hook = GuardrailHookSchema.parse({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/judge`, timeout_ms: 2000 });
const callMillis: number[] = [];
const context = { memory: new HistoryScanCache<HookMemory>(), record: () => {}, onCall: (_: string, __: string, ___: string, seconds: number) => callMillis.push(seconds * 1000) };
const target = { model: 'gpt-5.5', upstreamModel: 'gpt-5.5', providerName: 'openai', provider: { type: 'openai' } } as unknown as ResolvedTarget;

const input = [...(fixture.body.input as unknown[])];
for (let index = 0; JSON.stringify(input).length < TARGET_BYTES; index += 1) {
  input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `sed -n 1,40p src/module-${index}.ts` }), call_id: `call_${index}` });
  input.push({ type: 'function_call_output', call_id: `call_${index}`, output: output(index) });
}
async function turn(number: number): Promise<number> {
  const raw = Buffer.from(JSON.stringify({ ...fixture.body, input }));
  const body = readJsonBody(raw, MAX_JSON_DEPTH);
  const guard = new HookGuard(context, hook, 'openai-responses', { costCenter: 'bench', developer: 'd', keyId: 'k', sessionId: 'bench-session', requestId: `r${number}`, requestedModel: 'gpt-5.5', policyVersion: 1 });
  const started = performance.now();
  await guard.forHop(target, false, body, { body, rawBody: raw });
  return performance.now() - started;
}
const first = await turn(-1);
const firstBytes = received;
received = 0;
callMillis.length = 0;
const later: number[] = [];
for (let number = 0; number < TURNS; number += 1) {
  input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `npm test -- ${number}` }), call_id: `call_t${number}` });
  input.push({ type: 'function_call_output', call_id: `call_t${number}`, output: output(10_000 + number) });
  later.push(await turn(number));
}
// The gateway's own share of each turn: everything but the classifier call (prefix hashes, memory, encoding).
const own = later.map((millis, index) => millis - (callMillis[index] ?? 0)).sort((a, b) => a - b);
later.sort((a, b) => a - b);
// The round trip alone (one tiny item), to tell the classifier's HTTP cost from the gateway's own work.
const trips: number[] = [];
for (let number = 0; number < TURNS; number += 1) trips.push((await callHook(hook, {} as never, [{ index: 0, location: 'input[0]', item: 'x' }])).millis);
trips.sort((a, b) => a - b);
const lastBytes = JSON.stringify({ ...fixture.body, input }).length;
console.log(`guardrail hook (loopback classifier) on a ${(TARGET_BYTES / 1000).toFixed(0)} KB Codex session (${(lastBytes / 1000).toFixed(0)} KB by the last turn):`);
console.log(`  first turn (whole history sent, ${(firstBytes / 1000).toFixed(0)} KB): ${first.toFixed(2)} ms`);
console.log(`  later turns (2 new items each, ${(received / TURNS / 1000).toFixed(2)} KB sent per turn): p50 ${later[Math.floor(later.length / 2)]!.toFixed(3)} ms, p90 ${later[Math.floor(later.length * 0.9)]!.toFixed(3)} ms`);
console.log(`  of which the gateway's own work (prefix hashes, memory, the items' JSON): p50 ${own[Math.floor(own.length / 2)]!.toFixed(3)} ms`);
console.log(`  of which the HTTP round trip to the loopback classifier alone: p50 ${trips[Math.floor(trips.length / 2)]!.toFixed(3)} ms`);
server.closeAllConnections();
server.close();
