import { describe, expect, it } from 'vitest';
import { classifyCommand } from '../../shared/tool-signals/classify-command.ts';
import { classifyToolOutput } from '../../shared/tool-signals/classify-tool-output.ts';
import { countTrailingFailedToolResults } from '../../shared/tool-signals/count-trailing-failed-tool-results.ts';
import { extractTurnSignals, type TurnSignals } from '../../shared/tool-signals/extract-turn-signals.ts';
import { parseApplyPatch } from '../../shared/tool-signals/parse-apply-patch.ts';
import { declaredToolsOf, validateToolCall } from '../../shared/tool-signals/validate-tool-call.ts';
import { fixtureSession, loadCodexFixture, scenarioSessions } from '../evaluator/helpers/codex-sessions.ts';

describe('parseApplyPatch (the lark grammar Codex declares)', () => {
  it('reads the grammar from the real fixture and accepts the real patch', () => {
    const tools = loadCodexFixture(1).body.tools as { name: string; format?: { definition: string } }[];
    const definition = tools.find((tool) => tool.name === 'apply_patch')?.format?.definition ?? '';
    expect(definition).toContain('start: begin_patch hunk+ end_patch');
    const result = parseApplyPatch('*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n');
    expect(result).toEqual({ ok: true, files: [{ operation: 'add', path: 'hello.txt' }], addedLines: 1, removedLines: 0 });
  });

  it('accepts update, move, context, end-of-file and delete hunks; End Patch LF is optional', () => {
    const patch = [
      '*** Begin Patch',
      '*** Update File: src/a.ts',
      '*** Move to: src/b.ts',
      '@@ function main() {',
      ' const x = 1;',
      '-const y = 2;',
      '+const y = 3;',
      '+',
      '*** End of File',
      '*** Delete File: old.txt',
      '*** Update File: README.md',
      '@@',
      '-a',
      '+b',
      '*** End Patch',
    ].join('\n');
    const result = parseApplyPatch(patch);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.files).toEqual([
        { operation: 'update', path: 'src/a.ts', moveTo: 'src/b.ts' },
        { operation: 'delete', path: 'old.txt' },
        { operation: 'update', path: 'README.md' },
      ]);
      expect([result.addedLines, result.removedLines]).toEqual([3, 2]);
    }
  });

  it.each([
    ['no begin marker', '*** Update File: a\n-x\n*** End Patch\n', 1, 'Begin Patch'],
    ['no end marker', '*** Begin Patch\n*** Add File: a\n+x\n', 3, 'End Patch'],
    ['no hunks', '*** Begin Patch\n*** End Patch\n', 2, 'no hunks'],
    ['add without lines', '*** Begin Patch\n*** Add File: a\n*** End Patch\n', 3, 'at least one "+" line'],
    ['empty file name', '*** Begin Patch\n*** Delete File: \n*** End Patch\n', 2, 'needs a file name'],
    ['unprefixed line in update', '*** Begin Patch\n*** Update File: a\n@@\nplain\n*** End Patch\n', 4, 'must start with'],
    ['blank line in update', '*** Begin Patch\n*** Update File: a\n-x\n\n+y\n*** End Patch\n', 4, 'empty line'],
    ['bad context marker', '*** Begin Patch\n*** Update File: a\n@@x\n*** End Patch\n', 3, 'context marker'],
    ['text after end of file', '*** Begin Patch\n*** Update File: a\n-x\n*** End of File\n+y\n*** End Patch\n', 5, 'hunk header'],
    ['junk header', '*** Begin Patch\n*** Rename File: a\n*** End Patch\n', 2, 'hunk header'],
    ['trailing text after end', '*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nmore\n', 5, 'unexpected text after "*** End Patch"'],
  ])('rejects %s with the line', (_name, patch, line, message) => {
    const result = parseApplyPatch(patch);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.line).toBe(line);
      expect(result.error).toContain(message);
    }
  });
});

describe('validateToolCall', () => {
  const tools = declaredToolsOf(loadCodexFixture(1).body);

  it('validates function arguments against the declared JSON schema (ajv)', () => {
    expect(validateToolCall({ name: 'exec_command', kind: 'function', input: '{"cmd":"ls"}' }, tools)).toEqual({ validity: 'valid', reason: '' });
    expect(validateToolCall({ name: 'exec_command', kind: 'function', input: '{"cmd": "ls' }, tools).reason).toMatch(/^invalid_json: /);
    const missing = validateToolCall({ name: 'exec_command', kind: 'function', input: '{"command":"ls"}' }, tools);
    expect(missing.validity).toBe('invalid');
    expect(missing.reason).toMatch(/^schema: /);
    expect(validateToolCall({ name: 'exec_command', kind: 'function', input: '{"cmd":5}' }, tools).reason).toContain('/cmd must be string');
    expect(validateToolCall({ name: 'write_stdin', kind: 'function', input: '{"session_id":"x"}' }, tools).reason).toContain('/session_id must be number');
  });

  it('checks apply_patch input against the grammar and kinds against the declaration', () => {
    expect(validateToolCall({ name: 'apply_patch', kind: 'custom', input: '*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n' }, tools).validity).toBe('valid');
    expect(validateToolCall({ name: 'apply_patch', kind: 'custom', input: 'diff --git a/x b/x' }, tools).reason).toMatch(/^patch_grammar: line 1/);
    expect(validateToolCall({ name: 'apply_patch', kind: 'function', input: '{}' }, tools).reason).toMatch(/^kind_mismatch/);
  });

  it('treats undeclared names as unchecked when tool_search can discover tools, else invalid', () => {
    expect(tools.dynamic).toBe(true);
    expect(validateToolCall({ name: 'mcp__jira__search', kind: 'function', input: '{}' }, tools).validity).toBe('unchecked');
    const chatTools = declaredToolsOf({ tools: [{ type: 'function', function: { name: 'run', parameters: { type: 'object', required: ['x'], properties: { x: { type: 'string' } } } } }] });
    expect(validateToolCall({ name: 'other', kind: 'function', input: '{}' }, chatTools).validity).toBe('invalid');
    expect(validateToolCall({ name: 'run', kind: 'function', input: '{}' }, chatTools).reason).toContain("must have required property 'x'");
    const anthropicTools = declaredToolsOf({ tools: [{ name: 'get', input_schema: { type: 'object', properties: { id: { type: 'integer' } } } }] });
    expect(validateToolCall({ name: 'get', kind: 'function', input: '{"id":1.5}' }, anthropicTools).reason).toContain('must be integer');
  });

  it('caches: the same tools object yields the same declared set, validation stays fast', () => {
    const body = loadCodexFixture(2).body;
    expect(declaredToolsOf(body)).toBe(declaredToolsOf(structuredClone(body)));
    const started = performance.now();
    for (let index = 0; index < 5000; index += 1) validateToolCall({ name: 'exec_command', kind: 'function', input: '{"cmd":"npm test","yield_time_ms":1000}' }, declaredToolsOf(body));
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('classifyToolOutput and classifyCommand', () => {
  it('reads Codex result texts', () => {
    expect(classifyToolOutput('Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nA hello.txt\n')).toEqual({ status: 'success', exitCode: 0 });
    expect(classifyToolOutput('Chunk ID: 1\nWall time: 1 seconds\nProcess exited with code 2\nOutput:\n')).toEqual({ status: 'failure', exitCode: 2 });
    expect(classifyToolOutput('Chunk ID: 1\nProcess running with session ID 7\nOutput:\n').status).toBe('running');
    expect(classifyToolOutput('command timed out after 10000 milliseconds\n').status).toBe('timeout');
    expect(classifyToolOutput('Exit code: 124\nOutput:\n').status).toBe('timeout');
    expect(classifyToolOutput('apply_patch verification failed: Failed to find expected lines in a.ts').status).toBe('failure');
    expect(classifyToolOutput('{"output":"","metadata":{"exit_code":1,"duration_seconds":0.1}}')).toEqual({ status: 'failure', exitCode: 1 });
    expect(classifyToolOutput([{ type: 'input_text', text: 'Process exited with code 0' }]).status).toBe('success');
    expect(classifyToolOutput('some image', true).status).toBe('failure');
    expect(classifyToolOutput('{"goal":null}').status).toBe('unknown');
  });

  it.each([
    ['npm test', 'test', 'npm-test'],
    ['npm run test:unit -- --watch=false', 'test', 'npm-test'],
    ['pnpm -r test', 'test', 'pnpm-test'],
    ['yarn test', 'test', 'yarn-test'],
    ['CI=1 npx vitest run src', 'test', 'vitest'],
    ['npx jest --ci', 'test', 'jest'],
    ['cd api && python -m pytest -q tests/', 'test', 'pytest'],
    ['uv run pytest', 'test', 'pytest'],
    ['go test ./...', 'test', 'go-test'],
    ['cargo test 2>&1 | tail -20', 'test', 'cargo-test'],
    ['mvn -q test', 'test', 'maven-test'],
    ['./gradlew test', 'test', 'gradle-test'],
    ['make test', 'test', 'make-test'],
    ['npm run build && npm test', 'test', 'npm-test'],
    ['npx tsc --noEmit', 'build', 'tsc'],
    ['cargo build --release', 'build', 'cargo-build'],
    ['make', 'build', 'make'],
    ["bash -lc 'cd web && yarn build'", 'build', 'yarn-build'],
    ['cat hello.txt && echo done', 'other', ''],
    ['rg pytest', 'other', ''],
  ])('%s → %s %s', (command, category, runner) => {
    expect(classifyCommand(command)).toEqual({ category, runner });
  });

  it('reads argv arrays with a shell wrapper', () => {
    expect(classifyCommand(['bash', '-lc', 'go test ./pkg/...'])).toEqual({ category: 'test', runner: 'go-test' });
  });
});

describe('countTrailingFailedToolResults', () => {
  it('counts failures at the end, a success or a human message resets', () => {
    const loop = scenarioSessions('count').retryCap;
    expect(loop.map((record) => countTrailingFailedToolResults(record.body))).toEqual([0, 1, 2, 3, 4]);
    const last = loop[4]?.body as { input: unknown[] };
    expect(countTrailingFailedToolResults({ ...last, input: [...last.input, { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'try again' }] }] })).toBe(0);
    expect(countTrailingFailedToolResults(loadCodexFixture(3).body)).toBe(0);
    const clean = scenarioSessions('count').failingTests;
    expect(clean.map((record) => countTrailingFailedToolResults(record.body))).toEqual([0, 0, 1, 0, 1]);
  });

  it('skips running commands and reads Chat Completions and Anthropic histories', () => {
    expect(
      countTrailingFailedToolResults({
        input: [
          { type: 'function_call_output', call_id: 'a', output: 'Process exited with code 1' },
          { type: 'function_call', call_id: 'b', name: 'exec_command', arguments: '{}' },
          { type: 'function_call_output', call_id: 'b', output: 'Process running with session ID 3' },
        ],
      }),
    ).toBe(1);
    expect(
      countTrailingFailedToolResults({
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'sh', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'Exit code: 1' },
          { role: 'tool', tool_call_id: 't2', content: 'Exit code: 2' },
        ],
      }),
    ).toBe(2);
    expect(
      countTrailingFailedToolResults({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'go' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'u1', name: 'bash', input: { command: 'ls' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'u1', content: 'No such file', is_error: true }] },
        ],
      }),
    ).toBe(1);
  });

  it('stays fast on a long history (scans from the end)', () => {
    const input: unknown[] = [];
    for (let index = 0; index < 20_000; index += 1) input.push({ type: 'function_call_output', call_id: `c${index}`, output: 'Process exited with code 0' });
    input.push({ type: 'function_call_output', call_id: 'last', output: 'Process exited with code 1' });
    const started = performance.now();
    for (let index = 0; index < 10_000; index += 1) countTrailingFailedToolResults({ input });
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('extractTurnSignals', () => {
  it('extracts signals, not content, from the real Codex session', () => {
    const [first, second, third] = fixtureSession().map((record) => extractTurnSignals(record, 1000)) as [TurnSignals, TurnSignals, TurnSignals];
    expect(first?.calls).toEqual([{ callId: 'call_patch1', name: 'apply_patch', kind: 'custom', validity: 'valid', reason: '', category: 'patch', runner: 'apply_patch', command: '' }]);
    expect(second?.results).toEqual([{ callId: 'call_patch1', name: 'apply_patch', status: 'success', exitCode: 0, category: 'patch', runner: 'apply_patch', command: '' }]);
    expect(second?.calls[0]).toMatchObject({ name: 'exec_command', validity: 'valid', category: 'other', command: '' });
    expect(third?.results.map((result) => [result.callId, result.status])).toEqual([
      ['call_patch1', 'success'],
      ['call_exec1', 'success'],
    ]);
    expect(third?.finalAnswer).toBe(true);
    expect(first?.dims).toMatchObject({ served_model: 'gpt-5.5', input_token_bucket: 8000, hour: 9, dry_run: false });
    expect(JSON.stringify([first, second, third])).not.toContain('hello world');
  });

  it('keeps the command text only when capture is full', () => {
    const record = scenarioSessions('capture').clean[1];
    if (!record) throw new Error('missing record');
    expect(extractTurnSignals(record).calls[0]).toMatchObject({ category: 'test', runner: 'npm-test', command: '' });
    expect(extractTurnSignals({ ...record, span: { ...record.span, capture: 'full' } }).calls[0]?.command).toBe('npm test');
  });
});

describe('extractTurnSignals on other inbound protocols', () => {
  it('Chat Completions: declared function tools, tool messages as results', () => {
    const record = {
      span: { ...fixtureSession()[0]!.span, inbound_protocol: 'openai-chat' },
      inbound: 'openai-chat' as const,
      body: {
        model: 'gpt-5.5',
        tools: [{ type: 'function', function: { name: 'run_command', parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } } }],
        messages: [
          { role: 'user', content: 'run the tests' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'cc1', type: 'function', function: { name: 'run_command', arguments: '{"command":"cargo test"}' } }] },
          { role: 'tool', tool_call_id: 'cc1', content: 'Exit code: 101\nerror: test failed' },
        ],
      },
      toolCalls: [{ callId: 'cc2', name: 'run_command', kind: 'function' as const, input: '{"cmd":"cargo test"}' }],
    };
    const signals = extractTurnSignals(record);
    expect(signals.results).toEqual([{ callId: 'cc1', name: 'run_command', status: 'failure', exitCode: 101, category: 'test', runner: 'cargo-test', command: '' }]);
    expect(signals.calls[0]).toMatchObject({ validity: 'invalid', reason: "schema: (root) must have required property 'command'" });
    expect(signals.trailingFailedResults).toBe(1);
  });

  it('Anthropic Messages: input_schema tools, tool_result blocks with is_error', () => {
    const record = {
      span: fixtureSession()[0]!.span,
      inbound: 'anthropic-messages' as const,
      body: {
        model: 'claude',
        tools: [{ name: 'bash', input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'fix it' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: 'bash', input: { command: 'pytest -x' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu1', content: [{ type: 'text', text: '1 failed' }], is_error: true }] },
        ],
      },
      toolCalls: [{ callId: 'tu2', name: 'bash', kind: 'function' as const, input: '{"command":"pytest -x"}' }],
    };
    const signals = extractTurnSignals(record);
    expect(signals.results).toEqual([{ callId: 'tu1', name: 'bash', status: 'failure', exitCode: null, category: 'test', runner: 'pytest', command: '' }]);
    expect(signals.calls[0]).toMatchObject({ validity: 'valid', category: 'test', runner: 'pytest' });
  });
});
