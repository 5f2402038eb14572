/**
 * Measures how the real Claude Code CLI reacts to each error answer of an Anthropic-speaking
 * server (docs/CLAUDE-CODE.md is written from its output). Run: `npx node test/helpers/measure-claude-code-errors.ts`.
 * Each scenario gets its own loopback server that answers EVERY request the same way and counts them;
 * Claude Code runs headless with a cap (MEASURE_CAP_SECONDS, default 75; a run that hits it is reported
 * as hanging). MEASURE_PARALLEL (default 3) scenarios run at once; arguments pick scenarios by name.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClaudeCode } from './run-claude-code.ts';

const CAP_SECONDS = Number(process.env.MEASURE_CAP_SECONDS ?? 75);
const MARKER = 'gatehouse: cost center "platform" may not use model "claude-opus-4-5"; allowed: claude-sonnet-4-5';

interface Scenario {
  name: string;
  answer(response: ServerResponse): void;
}

const errorBody = (type: string, code: string) => JSON.stringify({ type: 'error', error: { type, message: MARKER, code }, request_id: 'req_measure' });

function httpError(status: number, type: string, headers: Record<string, string> = {}, code = 'model_not_allowed'): (response: ServerResponse) => void {
  return (response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(errorBody(type, code));
  };
}

function inBand(type: string): (response: ServerResponse) => void {
  return (response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const start = { type: 'message_start', message: { id: 'msg_m', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } };
    response.end(`event: message_start\ndata: ${JSON.stringify(start)}\n\nevent: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message: MARKER } })}\n\n`);
  };
}

const SCENARIOS: Scenario[] = [
  { name: '400 invalid_request_error', answer: httpError(400, 'invalid_request_error') },
  { name: '401 authentication_error', answer: httpError(401, 'authentication_error', {}, 'invalid_api_key') },
  { name: '403 permission_error', answer: httpError(403, 'permission_error') },
  { name: '404 not_found_error', answer: httpError(404, 'not_found_error') },
  { name: '413 request_too_large', answer: httpError(413, 'request_too_large', {}, 'payload_too_large') },
  { name: '429 rate_limit_error, no Retry-After', answer: httpError(429, 'rate_limit_error', {}, 'budget_exhausted') },
  { name: '429 + Retry-After: 5', answer: httpError(429, 'rate_limit_error', { 'retry-after': '5' }, 'budget_exhausted') },
  { name: '429 + Retry-After: 3600', answer: httpError(429, 'rate_limit_error', { 'retry-after': '3600' }, 'budget_exhausted') },
  { name: '429 + x-should-retry: false', answer: httpError(429, 'rate_limit_error', { 'x-should-retry': 'false' }, 'budget_exhausted') },
  { name: '400 + x-should-retry: false', answer: httpError(400, 'invalid_request_error', { 'x-should-retry': 'false' }) },
  { name: '401 + x-should-retry: false', answer: httpError(401, 'authentication_error', { 'x-should-retry': 'false' }, 'invalid_api_key') },
  { name: '403 + x-should-retry: false', answer: httpError(403, 'permission_error', { 'x-should-retry': 'false' }) },
  { name: '429 + Retry-After: 60', answer: httpError(429, 'rate_limit_error', { 'retry-after': '60' }, 'budget_exhausted') },
  { name: '503 + x-should-retry: false', answer: httpError(503, 'api_error', { 'x-should-retry': 'false' }, 'no_healthy_upstream') },
  { name: '500 api_error', answer: httpError(500, 'api_error', {}, 'upstream_error') },
  { name: '503 api_error', answer: httpError(503, 'api_error', {}, 'no_healthy_upstream') },
  { name: '529 overloaded_error', answer: httpError(529, 'overloaded_error', {}, 'upstream_error') },
  { name: '200 SSE then event: error (api_error)', answer: inBand('api_error') },
  { name: '200 SSE then event: error (overloaded_error)', answer: inBand('overloaded_error') },
];

async function measure(scenario: Scenario): Promise<string> {
  let requests = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      requests++;
      scenario.answer(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const workdir = mkdtempSync(join(tmpdir(), 'claude-measure-'));
  try {
    const run = await runClaudeCode({ gatewayUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, workdir, prompt: 'say hi', key: 'vk_measure', timeoutMillis: CAP_SECONDS * 1000 });
    const shown = run.result?.result ?? (run.stdout + run.stderr).trim();
    const verdict = run.code === null ? `HANGS (killed at ${CAP_SECONDS} s)` : `exit ${run.code}`;
    const sees = shown.includes(MARKER) ? 'our message shown' : 'message LOST';
    return `| ${scenario.name} | ${requests} | ${(run.millis / 1000).toFixed(1)} s | ${verdict}, ${sees}: \`${shown.replaceAll('\n', ' ').slice(0, 160)}\` |`;
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}

const only = process.argv.slice(2);
const chosen = only.length > 0 ? SCENARIOS.filter((scenario) => only.some((word) => scenario.name.includes(word))) : SCENARIOS;
// A few scenarios side by side (most of their time is Claude Code waiting between retries); fourteen
// at once starved each other before their first request on this 2-core machine.
const PARALLEL = Number(process.env.MEASURE_PARALLEL ?? 3);
const lines: string[] = new Array<string>(chosen.length);
let next = 0;
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    while (next < chosen.length) {
      const index = next++;
      lines[index] = await measure(chosen[index]!);
    }
  }),
);
console.log('| answer (every request) | requests | time | what the developer sees |\n|---|---|---|---|');
for (const line of lines) console.log(line);
