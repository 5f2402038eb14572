import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('upstream failures become the contract error body', () => {
  let gatehouse: TestGatehouse;
  let failing: FakeResponsesUpstream;

  beforeAll(async () => {
    failing = await startFakeResponsesUpstream((body) =>
      body.input === 'truncate'
        ? { output: [{ type: 'message', text: 'this answer will be cut off before it completes' }], truncateAfterEvents: 5 }
        : { output: [], fail: { status: 500, code: 'server_error', message: 'upstream exploded' } },
    );
    const port = await closedPort();
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: `http://127.0.0.1:${port}/v1`, api_key: 'sk_test' }, failing: { type: 'openai', base_url: failing.url, api_key: 'sk_test' } },
      policy: {
        models: {
          'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 1 } },
          'broken-model': { provider: 'failing', upstream: 'gpt-5.5', price: { input: 1, output: 1 } },
        },
        cost_centers: { platform: { allowed_models: ['gpt-5.5', 'broken-model'] } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await failing?.close();
  });

  const post = (body: Record<string, unknown>) =>
    request(`${gatehouse.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'failures' }, body: JSON.stringify(body) });

  it('answers 503 no_healthy_upstream when the upstream refuses connections', async () => {
    const response = await post({ model: 'gpt-5.5', input: 'hi', stream: true });
    const body = (await response.body.json()) as { error: Record<string, unknown> & { gatehouse: { attempts: unknown[] } } };
    expect(response.statusCode).toBe(503);
    expect(body.error).toMatchObject({ code: 'no_healthy_upstream', type: 'api_error', policy_version: 1 });
    expect(String(body.error.message)).toContain('cannot reach provider "openai"');
    expect(body.error.request_id).toBe(response.headers['x-gatehouse-request-id']);
    expect(body.error.gatehouse.attempts).toHaveLength(1);
  });

  it('answers 502 upstream_error when the upstream fails with 5xx, without leaking its key', async () => {
    const response = await post({ model: 'broken-model', input: 'hi' });
    const text = await response.body.text();
    expect(response.statusCode).toBe(502);
    expect(JSON.parse(text).error.code).toBe('upstream_error');
    expect(text).toContain('upstream exploded');
    expect(text).not.toContain('sk_test');
  });

  it('turns a truncated stream into an in-band response.failed, never a normal finish', async () => {
    const response = await post({ model: 'broken-model', input: 'truncate', stream: true });
    const text = await response.body.text();
    expect(response.statusCode).toBe(200);
    expect(text).not.toContain('event: response.completed');
    expect(text).toContain('event: response.failed');
    expect(text).toContain('before response.completed');
    const rows = await waitForRows<{ error_code: string }>(gatehouse, `SELECT error_code FROM gatehouse.spans WHERE session_id = 'failures' AND error_code = 'upstream_error' AND status_code = 200`, 1);
    expect(rows).toHaveLength(1);
  });
});

describe('invalid configuration', () => {
  it('exits non-zero and lists every problem by path', () => {
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-badconfig-'));
    try {
      writeFileSync(join(folder, 'policy.yaml'), 'models:\n  m1: { provider: openai, upstream: x, price: { input: -1, output: 1 } }\ncost_centers:\n  cc: { allowed_models: [nope], stages: { alert: "high" } }\nkeys:\n  - { developer: d, cost_center: missing }\n');
      writeFileSync(join(folder, 'gatehouse.yaml'), 'server: { port: "eighty" }\nproviders:\n  openai: { type: openia, base_url: not-a-url }\npolicy: policy.yaml\nadmin:\n  tokens:\n    - { name: a, role: root, token: "${MISSING_ADMIN_TOKEN}" }\n');
      const result = spawnSync(process.execPath, ['bin/gatehouse.mjs', 'start', '--config', join(folder, 'gatehouse.yaml'), '--data-dir', join(folder, 'data')], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000 });
      expect(result.status).not.toBe(0);
      for (const path of ['server.port', 'providers.openai.type', 'providers.openai.base_url', 'admin.tokens.0.role', 'admin.tokens.0.token', 'MISSING_ADMIN_TOKEN']) expect(result.stderr).toContain(path);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('reports every policy problem by path too', () => {
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-badpolicy-'));
    try {
      writeFileSync(join(folder, 'policy.yaml'), 'models:\n  m1: { provider: openai, upstream: x, price: { input: -1, output: 1 } }\ncost_centers:\n  cc: { allowed_models: [nope], stages: { alert: "high" } }\nkeys:\n  - { key: vk_valid_1, developer: d, cost_center: missing }\n');
      writeFileSync(join(folder, 'gatehouse.yaml'), 'policy: policy.yaml\n');
      const result = spawnSync(process.execPath, ['bin/gatehouse.mjs', 'start', '--config', join(folder, 'gatehouse.yaml'), '--data-dir', join(folder, 'data')], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000 });
      expect(result.status).not.toBe(0);
      for (const path of ['models.m1.price.input', 'cost_centers.cc.stages.alert', 'cost_centers.cc.allowed_models.0', 'keys.0.cost_center']) expect(result.stderr).toContain(path);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
