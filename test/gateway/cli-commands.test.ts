import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/gatehouse.mjs', ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }).catch((error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }));

describe('npx gatehouse against a running gateway', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 42, output_tokens: 7 } }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('creates, lists and revokes keys; the created key works at once', async () => {
    const created = await cli(['keys', 'create', '--developer', 'carol', '--cost-center', 'platform', '--repo', 'acme/web', '--json', '--url', gatehouse.url, '--token', TEST_ADMIN_TOKEN]);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key.key).toMatch(/^gh_/);
    const response = await fetch(`${gatehouse.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-session-id': 'cli-session' }, body: JSON.stringify({ model: 'gpt-5.5', input: 'hi' }) });
    expect(response.status).toBe(200);
    const listed = await cli(['keys', 'list'], { GATEHOUSE_URL: gatehouse.url, GATEHOUSE_TOKEN: TEST_ADMIN_TOKEN });
    expect(listed.stdout).toContain('carol');
    expect(listed.stdout).toContain(key.id);
    expect(listed.stdout).not.toContain(key.key);
    const revoked = await cli(['keys', 'revoke', key.id, '--url', gatehouse.url, '--token', TEST_ADMIN_TOKEN]);
    expect(revoked.stdout).toContain(`revoked ${key.id}`);
  });

  it('prints a SQL result as a table for an analyst', async () => {
    await waitForRows(gatehouse, `SELECT 1 FROM gatehouse.spans WHERE session_id = 'cli-session'`, 1);
    const result = await cli(['sql', 'SELECT developer, input_tokens, output_tokens FROM gatehouse.spans WHERE session_id = {s:String}'.replace('{s:String}', "'cli-session'"), '--url', gatehouse.url, '--token', TEST_ANALYST_TOKEN]);
    expect(result.stdout).toMatch(/carol.*42.*7/);
    expect(result.stdout).toContain('1 row');
  });

  it('says what to do when the token is missing or the gateway is unreachable', async () => {
    const noToken = await cli(['keys', 'list', '--url', gatehouse.url]);
    expect(noToken.stderr).toContain('GATEHOUSE_TOKEN');
    expect((noToken as { code?: number }).code).toBe(2);
    const unreachable = await cli(['sql', 'SELECT 1', '--url', 'http://127.0.0.1:9', '--token', TEST_ANALYST_TOKEN]);
    expect(unreachable.stderr).toContain('cannot reach the gateway');
  });

  it('prints the Codex CLI config block', async () => {
    const result = await cli(['codex-config', '--key', 'vk_example', '--url', 'http://gateway.internal:8787']);
    expect(result.stdout).toContain('base_url = "http://gateway.internal:8787/v1"');
    expect(result.stdout).toContain('wire_api = "responses"');
    expect(result.stdout).toContain('export GATEHOUSE_KEY=vk_example');
  });
});
