import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream, type ScriptedTurn } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { runCodex } from '../helpers/run-codex.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';


/** Which scripted turn fits a request: by how many tool outputs the resent history already carries. */
function codexScript(body: Record<string, unknown>): ScriptedTurn {
  const input = (body.input as { type?: string }[]) ?? [];
  const outputs = input.filter((item) => item.type === 'function_call_output' || item.type === 'custom_tool_call_output').length;
  if (outputs === 0) {
    return { output: [{ type: 'custom_tool_call', name: 'apply_patch', input: '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n', callId: 'call_patch1' }], usage: { input_tokens: 1200, cached_tokens: 0, output_tokens: 40 } };
  }
  if (outputs === 1) {
    return { output: [{ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: 'cat hello.txt && echo ran-by-codex > ran.txt' }), callId: 'call_exec1' }], usage: { input_tokens: 1400, cached_tokens: 1024, output_tokens: 30, reasoning_tokens: 10 } };
  }
  return { output: [{ type: 'message', text: 'Created hello.txt and checked it: all done.' }], usage: { input_tokens: 1600, cached_tokens: 1280, output_tokens: 12 } };
}

describe('real Codex CLI through Gatehouse to an OpenAI Responses upstream', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let workdir: string;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream((body) => codexScript(body));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
    workdir = mkdtempSync(join(tmpdir(), 'codex-work-'));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('applies the patch, runs the command, prints the answer, and writes three spans with tokens and cost', async () => {
    const result = await runCodex({ gatewayUrl: gatehouse.url, workdir, prompt: 'create hello.txt', key: TEST_KEY });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(workdir, 'hello.txt'), 'utf8')).toBe('hello world\n');
    expect(existsSync(join(workdir, 'ran.txt'))).toBe(true);
    expect(result.stdout + result.stderr).toContain('Created hello.txt and checked it: all done.');

    // The upstream saw the client's request with the provider's key, never the virtual key.
    expect(upstream.requests).toHaveLength(3);
    for (const request of upstream.requests) {
      expect(request.headers.authorization).toBe('Bearer sk_test');
      expect(request.body.model).toBe('gpt-5.5');
    }
    const sessionId = String(upstream.requests[0]?.headers['session-id']);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const rows = await waitForRows<Record<string, unknown>>(
      gatehouse,
      `SELECT session_id, turn_id, turn_seq, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, served_model, provider, status_code, developer, cost_center, tool_call_count FROM gatehouse.spans WHERE session_id = '${sessionId}' ORDER BY turn_seq`,
      3,
    );
    expect(rows).toHaveLength(3);
    expect(rows.map((row) => [row.input_tokens, row.cached_input_tokens, row.output_tokens])).toEqual([
      [1200, 0, 40],
      [1400, 1024, 30],
      [1600, 1280, 12],
    ]);
    expect(rows[1]?.reasoning_tokens).toBe(10);
    // gpt-5.5: $1.25 input, $0.125 cached, $10 output per million.
    const expectedCosts = [(1200 * 1.25 + 40 * 10) / 1e6, ((1400 - 1024) * 1.25 + 1024 * 0.125 + 30 * 10) / 1e6, ((1600 - 1280) * 1.25 + 1280 * 0.125 + 12 * 10) / 1e6];
    rows.forEach((row, index) => expect(row.cost_usd).toBeCloseTo(expectedCosts[index] ?? -1, 9));
    for (const row of rows) {
      expect(row).toMatchObject({ served_model: 'gpt-5.5', provider: 'openai', status_code: 200, developer: 'alice', cost_center: 'platform' });
      expect(String(row.turn_id)).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(rows.map((row) => row.tool_call_count)).toEqual([1, 1, 0]);
    expect(new Set(rows.map((row) => row.turn_seq)).size).toBe(3);
  });
});
