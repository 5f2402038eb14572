import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { request } from 'undici';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { runClaudeCode, type ClaudeCodeRun } from '../helpers/run-claude-code.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/**
 * The real Claude Code CLI (2.1.332) meets Gatehouse's denials: it prints the gateway's own words
 * after ONE request. Measured without `x-should-retry: false` (docs/CLAUDE-CODE.md): a 429 or 401 is
 * retried with backoff for minutes (7 requests in 75 s, message never shown); a 403 is not retried.
 */

const KEYS = { platform: 'vk_claude_platform', broke: 'vk_claude_broke' };
const PRICE = { input: 3, cached_input: 0.3, output: 15 };
const policy = {
  models: {
    'claude-sonnet-4-5': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: PRICE },
    'claude-opus-4-5': { provider: 'anthropic', upstream: 'claude-opus-4-5', price: { input: 15, cached_input: 1.5, output: 75 } },
  },
  cost_centers: {
    platform: { allowed_models: ['claude-sonnet-4-5'] },
    broke: { allowed_models: ['claude-sonnet-4-5'], budgets: { developer: { daily_usd: 1 } } },
  },
  keys: [
    { key: KEYS.platform, developer: 'paula', cost_center: 'platform' },
    { key: KEYS.broke, developer: 'bruno', cost_center: 'broke' },
  ],
};

describe('real Claude Code sees Gatehouse denials after one request', () => {
  let upstream: FakeUpstream;
  let gatehouse: TestGatehouse;
  let workdir: string;
  let received = 0;
  const countRequest = (incoming: IncomingMessage) => {
    if ((incoming.url ?? '').startsWith('/v1/messages')) received += 1;
  };

  beforeAll(async () => {
    upstream = await startFakeUpstream('anthropic');
    gatehouse = await startTestGatehouse({ providers: { anthropic: { type: 'anthropic', base_url: upstream.url, api_key: 'sk_test' } }, policy });
    gatehouse.app.server.on('request', countRequest);
    workdir = mkdtempSync(join(tmpdir(), 'claude-denials-'));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  async function claude(key: string, model: string): Promise<ClaudeCodeRun & { requests: number; upstreamRequests: number }> {
    const receivedBefore = received;
    const upstreamBefore = upstream.requests.length;
    // 45 s: a retried 429/401 takes minutes, so a regression shows as a killed run with many requests.
    const run = await runClaudeCode({ gatewayUrl: gatehouse.url, workdir, prompt: 'add a test', model, key, timeoutMillis: 45_000 });
    const result = { ...run, requests: received - receivedBefore, upstreamRequests: upstream.requests.length - upstreamBefore };
    console.info(`[claude-denials] ${model} ${key}: exit ${run.code}, ${result.requests} request(s), ${run.millis} ms; shown: ${String(run.result?.result).slice(0, 300)}`);
    return result;
  }

  it('model not allowed (403): the model, the cost center and what is allowed, after one request, nothing upstream', async () => {
    const run = await claude(KEYS.platform, 'claude-opus-4-5');
    expect(run.code).toBe(1);
    expect(run.result?.is_error).toBe(true);
    expect(run.result?.result).toContain('gatehouse: model "claude-opus-4-5" is not allowed for cost center "platform"; allowed for platform: claude-sonnet-4-5');
    expect(run.requests).toBe(1);
    expect(run.upstreamRequests).toBe(0);
  });

  it('budget exhausted (429): the budget, the spend and when it resets, after one request (was: retried for minutes)', async () => {
    upstream.push({ text: 'expensive', usage: { input: 1_000_000, output: 0 } });
    const prime = await request(`${gatehouse.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEYS.broke, 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'PRIME-SPEND' }] }) });
    await prime.body.text();
    expect(prime.statusCode).toBe(200);
    await waitForRows(gatehouse, `SELECT 1 FROM gatehouse.spans WHERE developer = 'bruno' AND cost_usd > 1`, 1);
    const run = await claude(KEYS.broke, 'claude-sonnet-4-5');
    expect(run.code).toBe(1);
    expect(run.result?.result).toMatch(/gatehouse: the daily budget of developer bruno \(cost center broke\) is exhausted: \$3\.00 spent of \$1\.00 \(requests pause at 110%\); it resets/);
    expect(run.requests).toBe(1);
    expect(run.upstreamRequests).toBe(0);
  });

  it('unknown key (401): says so after one request (was: retried for minutes)', async () => {
    const run = await claude('vk_nobody', 'claude-sonnet-4-5');
    expect(run.code).toBe(1);
    expect(run.result?.result).toContain('gatehouse: this virtual key is unknown or revoked');
    expect(run.requests).toBe(1);
  });
});
