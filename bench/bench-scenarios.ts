// The requests the benchmarks send. `tiny` is one short Responses turn; `codex-45k` and `codex-200k`
// are the real Codex CLI request of test/fixtures/inbound/codex-cli (turn 3) with its history padded
// by function_call / function_call_output pairs, as long sessions carry (Codex resends the whole
// conversation every turn); `chat-tiny` is a short Chat Completions request, translated when the
// provider speaks Responses.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BENCH_HEADERS } from './bench-servers.ts';

export const SCENARIOS = ['tiny', 'codex-45k', 'codex-200k', 'chat-tiny'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Scenario {
  name: ScenarioName;
  /** Client route under /v1. */
  path: '/responses' | '/chat/completions';
  headers: Record<string, string>;
  body: string;
}

const FIXTURE = resolve(import.meta.dirname, '../test/fixtures/inbound/codex-cli/responses-request-turn3.json');

/** One realistic exec_command round trip: a command and ~1.5 KB of its output. */
function paddingPair(index: number): [Record<string, unknown>, Record<string, unknown>] {
  const callId = `call_pad${index}`;
  const listing = Array.from({ length: 24 }, (_, line) => `src/module-${index}/file-${line}.ts:${line + 1}: export function handler${line}(input: string) { return input.trim(); }`).join('\n');
  return [
    { type: 'function_call', status: 'completed', id: `fc_pad${index}`, name: 'exec_command', arguments: JSON.stringify({ cmd: `rg -n "handler" src/module-${index}` }), call_id: callId },
    { type: 'function_call_output', id: `fco_pad${index}`, call_id: callId, output: `Chunk ID: ${index.toString(16).padStart(6, '0')}\nWall time: 0.0123 seconds\nProcess exited with code 0\nOriginal token count: 512\nOutput:\n${listing}\n` },
  ];
}

/** The Codex request with pairs inserted after the user's message until the body reaches `targetBytes`. */
export function codexBody(targetBytes: number, stream = true): { headers: Record<string, string>; body: string } {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };
  const input = fixture.body.input as Record<string, unknown>[];
  const userIndex = input.findLastIndex((item) => item.type === 'message' && item.role === 'user');
  const padding: Record<string, unknown>[] = [];
  let body = JSON.stringify({ ...fixture.body, stream });
  while (Buffer.byteLength(body) < targetBytes) {
    padding.push(...paddingPair(padding.length / 2));
    body = JSON.stringify({ ...fixture.body, stream, input: [...input.slice(0, userIndex + 1), ...padding, ...input.slice(userIndex + 1)] });
  }
  const { 'content-length': _length, authorization: _authorization, 'accept-encoding': _encoding, ...headers } = fixture.headers;
  return { headers: { ...headers, authorization: 'Bearer vk_bench', 'content-type': 'application/json' }, body };
}

/** The request of a scenario; `stream` applies to the short ones (Codex always streams). */
export function scenario(name: ScenarioName, stream = false): Scenario {
  switch (name) {
    case 'codex-45k':
      return { name, path: '/responses', ...codexBody(45_000) };
    case 'codex-200k':
      return { name, path: '/responses', ...codexBody(200_000) };
    case 'chat-tiny':
      return { name, path: '/chat/completions', headers: BENCH_HEADERS, body: JSON.stringify({ model: 'gpt-5.5', messages: [{ role: 'user', content: 'Say hello twenty times.' }], stream }) };
    default:
      return { name: 'tiny', path: '/responses', headers: BENCH_HEADERS, body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello twenty times.' }] }], stream }) };
  }
}

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}
