import { readFileSync } from 'node:fs';
import type { OutputToolCall, SpanRow, TurnRecord } from '../../../shared/telemetry/turn-record.ts';

/** A real Codex CLI request capture (test/fixtures/inbound/codex-cli, copied from shared/fixtures). */
export function loadCodexFixture(turn: 1 | 2 | 3): { headers: Record<string, string>; body: Record<string, unknown> } {
  const url = new URL(`../../fixtures/inbound/codex-cli/responses-request-turn${turn}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };
}

import { spanRow } from '../../helpers/span-row.ts';

export { spanRow };

/** One model response in a scripted session, and what the client then sent back. */
export type SessionStep =
  | { kind: 'calls'; calls: { callId: string; name: string; type: 'function' | 'custom'; input: string; output?: string }[] }
  | { kind: 'answer'; text: string }
  | { kind: 'error'; statusCode: number; errorCode: string };

export const execCall = (callId: string, cmd: string, output?: string) => ({
  callId,
  name: 'exec_command',
  type: 'function' as const,
  input: JSON.stringify({ cmd }),
  ...(output === undefined ? {} : { output }),
});
export const patchCall = (callId: string, patch: string, output: string) => ({ callId, name: 'apply_patch', type: 'custom' as const, input: patch, output });
export const execOutput = (exitCode: number, text = '') =>
  `Chunk ID: 1c8df5\nWall time: 0.4000 seconds\nProcess exited with code ${exitCode}\nOriginal token count: 5\nOutput:\n${text}\n`;
export const PATCH_OK = (file: string) => `Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nM ${file}\n`;
export const PATCH_FAILED = `Exit code: 1\nWall time: 0 seconds\nOutput:\napply_patch verification failed: Failed to find expected lines in src/app.ts\n`;
export const updatePatch = (file: string) => `*** Begin Patch\n*** Update File: ${file}\n@@\n-old line\n+new line\n*** End Patch\n`;

/**
 * Builds the TurnRecords the gateway would hand over for a scripted Codex session: request k
 * carries the base conversation (the real fixture's system/user items and tools) plus every earlier
 * call, its output and answer, exactly as Codex resends history.
 */
export function buildSession(sessionId: string, steps: SessionStep[], options: { baseTs?: number; model?: string; userPrompt?: string; spanOverrides?: Partial<SpanRow> } = {}): TurnRecord[] {
  const fixture = loadCodexFixture(1);
  const baseInput = (fixture.body.input as Record<string, unknown>[]).slice(0, 3);
  const history: Record<string, unknown>[] = [...baseInput, { type: 'message', role: 'user', content: [{ type: 'input_text', text: options.userPrompt ?? 'fix the failing test' }] }];
  const records: TurnRecord[] = [];
  const baseTs = options.baseTs ?? Date.parse('2026-11-28T10:00:00Z');
  steps.forEach((step, index) => {
    const body = { ...fixture.body, input: structuredClone(history), model: options.model ?? 'gpt-5.5', prompt_cache_key: sessionId };
    const toolCalls: OutputToolCall[] = step.kind === 'calls' ? step.calls.map((call) => ({ callId: call.callId, name: call.name, kind: call.type, input: call.input })) : [];
    const span = spanRow({
      ts: new Date(baseTs + index * 20_000).toISOString(),
      request_id: `${sessionId}-req-${index + 1}`,
      session_id: sessionId,
      turn_id: `${sessionId}-turn`,
      turn_seq: index + 1,
      served_model: options.model ?? 'gpt-5.5',
      requested_model: options.model ?? 'gpt-5.5',
      tool_call_count: toolCalls.length,
      // A refused turn was served by nothing (as the gateway records it).
      ...(step.kind === 'error'
        ? { status_code: step.statusCode, error_code: step.errorCode, served_model: '', provider: '', output_tokens: 0, input_tokens: 0, cached_input_tokens: 0, cost_usd: 0 }
        : {}),
      ...options.spanOverrides,
    });
    records.push({ span, body, inbound: 'openai-responses', toolCalls });
    if (step.kind === 'calls') {
      for (const call of step.calls) {
        history.push(
          call.type === 'custom'
            ? { type: 'custom_tool_call', status: 'completed', call_id: call.callId, name: call.name, input: call.input }
            : { type: 'function_call', status: 'completed', name: call.name, arguments: call.input, call_id: call.callId },
        );
      }
      for (const call of step.calls) {
        if (call.output === undefined) continue;
        history.push({ type: call.type === 'custom' ? 'custom_tool_call_output' : 'function_call_output', call_id: call.callId, output: call.output });
      }
    } else if (step.kind === 'answer') {
      history.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: step.text }] });
    }
  });
  return records;
}

/** The real three-request session of the fixtures (patch, command, answer). */
export function fixtureSession(sessionId = '01a21ff0-c202-77a0-aae6-ef56aa232c77'): TurnRecord[] {
  const bodies = [loadCodexFixture(1).body, loadCodexFixture(2).body, loadCodexFixture(3).body];
  const toolCalls: OutputToolCall[][] = [
    [{ callId: 'call_patch1', name: 'apply_patch', kind: 'custom', input: '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n' }],
    [{ callId: 'call_exec1', name: 'exec_command', kind: 'function', input: '{"cmd":"cat hello.txt && echo done"}' }],
    [],
  ];
  const baseTs = Date.parse('2026-11-28T09:00:00Z');
  return bodies.map((body, index) => ({
    span: spanRow({
      ts: new Date(baseTs + index * 5000).toISOString(),
      request_id: `${sessionId}-req-${index + 1}`,
      session_id: sessionId,
      turn_id: '01a21ff0-c223-7053-a5e7-2b47b2d53e1c',
      turn_seq: index + 1,
      tool_call_count: (toolCalls[index] ?? []).length,
    }),
    body,
    inbound: 'openai-responses' as const,
    toolCalls: toolCalls[index] ?? [],
  }));
}

/** The reviewer's scenarios, as scripted sessions. */
export interface ScenarioSessions {
  clean: TurnRecord[];
  failingTests: TurnRecord[];
  retryCap: TurnRecord[];
  denied: TurnRecord[];
  malformed: TurnRecord[];
}

export function scenarioSessions(prefix: string): ScenarioSessions {
  const failingTest = execOutput(1, 'FAILED tests/test_app.py::test_total - AssertionError');
  return {
    clean: buildSession(`${prefix}-clean`, [
      { kind: 'calls', calls: [patchCall('c1', updatePatch('src/app.ts'), PATCH_OK('src/app.ts'))] },
      { kind: 'calls', calls: [execCall('c2', 'npm test', execOutput(0, 'Tests: 12 passed'))] },
      { kind: 'answer', text: 'Fixed the bug; all tests pass.' },
    ]),
    failingTests: buildSession(`${prefix}-failing`, [
      { kind: 'calls', calls: [patchCall('f1', updatePatch('app.py'), PATCH_OK('app.py'))] },
      { kind: 'calls', calls: [execCall('f2', 'python -m pytest -q', failingTest)] },
      { kind: 'calls', calls: [patchCall('f3', updatePatch('app.py'), PATCH_OK('app.py'))] },
      { kind: 'calls', calls: [execCall('f4', 'python -m pytest -q', failingTest)] },
      { kind: 'answer', text: 'I could not make the test pass.' },
    ]),
    retryCap: buildSession(`${prefix}-loop`, [
      { kind: 'calls', calls: [execCall('l1', 'cd web && pnpm test', execOutput(1, 'FAIL'))] },
      { kind: 'calls', calls: [execCall('l2', 'cd web && pnpm test', execOutput(1, 'FAIL'))] },
      { kind: 'calls', calls: [execCall('l3', 'cd web && pnpm test', execOutput(1, 'FAIL'))] },
      { kind: 'calls', calls: [execCall('l4', 'cd web && pnpm test', execOutput(1, 'FAIL'))] },
      { kind: 'error', statusCode: 429, errorCode: 'retry_limit_exceeded' },
    ]),
    denied: buildSession(
      `${prefix}-denied`,
      Array.from({ length: 6 }, () => ({ kind: 'error' as const, statusCode: 403, errorCode: 'model_not_allowed' })),
      { model: 'gpt-5.5-pro' },
    ),
    malformed: buildSession(`${prefix}-malformed`, [
      {
        kind: 'calls',
        calls: [
          { callId: 'm1', name: 'exec_command', type: 'function', input: '{"cmd": "ls', output: 'failed to parse function arguments: EOF while parsing a string' },
          { callId: 'm2', name: 'exec_command', type: 'function', input: '{"command":"ls"}', output: 'failed to parse function arguments: missing field `cmd`' },
          { callId: 'm3', name: 'apply_patch', type: 'custom', input: '*** Begin Patch\n*** Update File: a.ts\nnew line without prefix\n', output: 'Exit code: 1\nOutput:\nInvalid patch: missing *** End Patch\n' },
        ],
      },
      { kind: 'answer', text: 'Sorry, something went wrong.' },
    ]),
  };
}
