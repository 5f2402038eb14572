import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { execFileSync } from 'node:child_process';
import { startFakeResponsesUpstream, type FakeResponsesUpstream, type ScriptedTurn } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { runCodex, type CodexRun } from '../helpers/run-codex.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, postTurn, simpleTurn } from './helpers/e2e-client.ts';

/**
 * The real Codex CLI (0.171.0) meets Gatehouse's denials: the developer's terminal shows the
 * gateway's own words, within 2 requests and 2 s (CODEX-CLI.md: 400 is the only status it neither
 * retries nor hides the message of).
 */

const KEYS = { platform: 'vk_codex_platform', broke: 'vk_codex_broke', loop: 'vk_codex_loop' };
const PRICE = { input: 1.25, cached_input: 0.125, output: 10 };

const policy = {
  models: {
    'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: PRICE },
    'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
    'o3-pro': { provider: 'openai', upstream: 'o3-pro', price: PRICE },
  },
  cost_centers: {
    platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'] },
    broke: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1 } } },
    loop: { allowed_models: ['gpt-5.5'], retry_cap: 2 },
  },
  keys: [
    { key: KEYS.platform, developer: 'paula', cost_center: 'platform' },
    { key: KEYS.broke, developer: 'bruno', cost_center: 'broke' },
    { key: KEYS.loop, developer: 'lou', cost_center: 'loop' },
  ],
};

/** Output items of the resent history that are tool results. */
const toolOutputs = (body: Record<string, unknown>) => ((body.input as { type?: string }[]) ?? []).filter((item) => item.type === 'function_call_output').length;

function script(body: Record<string, unknown>): ScriptedTurn {
  const text = JSON.stringify(body.input);
  if (text.includes('PRIME-SPEND')) return { output: [{ type: 'message', text: 'expensive' }], usage: { input_tokens: 1_000_000, output_tokens: 0 } }; // $1.25
  if (text.includes('keep running the failing build')) {
    // A model that keeps retrying a command that keeps failing.
    return { output: [{ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `sh -c 'echo build broken >&2; exit 1'` }), callId: `call_fail_${toolOutputs(body)}` }], usage: { input_tokens: 2_000, output_tokens: 20 } };
  }
  return { output: [{ type: 'message', text: 'fine' }], usage: { input_tokens: 100, output_tokens: 5 } };
}

describe('real Codex CLI sees Gatehouse denials in its terminal, at once', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let workdir: string;
  /** Requests the gateway received on /v1/responses (counted on the HTTP server, before any routing). */
  let received = 0;
  let lastRequestAt = 0;
  const countRequest = (request: IncomingMessage) => {
    if ((request.url ?? '').startsWith('/v1/responses')) {
      received += 1;
      lastRequestAt = Date.now();
    }
  };

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(script);
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
    gatehouse.app.server.on('request', countRequest);
    workdir = mkdtempSync(join(tmpdir(), 'codex-denials-'));
    // Load the client binary (hundreds of MB) into the page cache once, so the 2 s bound measures the
    // denial path and not a cold disk.
    execFileSync(join(process.cwd(), 'node_modules', '.bin', 'codex'), ['--version'], { stdio: 'ignore', timeout: 30_000 });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  /**
   * Runs Codex and measures what the gateway saw: requests on /v1/responses, requests sent upstream,
   * and `afterDenialMillis`, from the last request the gateway received (the denied one) to Codex's
   * exit: the time the developer waits once Gatehouse has answered (no retry, no backoff).
   */
  async function codex(key: string, model: string, prompt: string): Promise<CodexRun & { requests: number; upstreamRequests: number; afterDenialMillis: number }> {
    const receivedBefore = received;
    const upstreamBefore = upstream.requests.length;
    const run = await runCodex({ gatewayUrl: gatehouse.url, workdir, prompt, model, key, timeoutMillis: 30_000 });
    const exitedAt = Date.now();
    const result = { ...run, requests: received - receivedBefore, upstreamRequests: upstream.requests.length - upstreamBefore, afterDenialMillis: exitedAt - lastRequestAt };
    const lastLine = (run.stderr.trim().split('\n').filter((line) => line.includes('gatehouse')).at(-1) ?? '').slice(0, 400);
    console.info(`[codex-denials] ${model} ${key}: exit ${run.code}, ${result.requests} gateway request(s), ${result.upstreamRequests} upstream, ${run.millis} ms in all, ${result.afterDenialMillis} ms after the denial; terminal: ${lastLine}`);
    return result;
  }

  /**
   * ≤ 2 s for the whole run when the machine is quiet (measured 0.3–1.2 s); under a loaded shared
   * box the client's own start-up has taken 4.5 s, so the strict bound is on the part Gatehouse
   * controls: from the denied request to the client's exit. A 403 retry storm (6 requests, 6.6 s)
   * or a long Retry-After (a hang) fails either way.
   */
  function expectPrompt(run: { millis: number; afterDenialMillis: number }): void {
    expect(run.afterDenialMillis).toBeLessThanOrEqual(2_000);
    expect(run.millis).toBeLessThanOrEqual(10_000);
  }

  it('model not allowed: the terminal shows which model, which cost center and what is allowed; ≤ 2 requests, ≤ 2 s, nothing upstream', async () => {
    const run = await codex(KEYS.platform, 'o3-pro', 'refactor the parser');
    const terminal = run.stdout + run.stderr;
    expect(terminal).toContain('gatehouse: model \\"o3-pro\\" is not allowed for cost center \\"platform\\"; allowed for platform: gpt-5.5, gpt-5.1-mini');
    expect(run.code).not.toBe(0);
    expect(run.requests).toBeGreaterThanOrEqual(1);
    expect(run.requests).toBeLessThanOrEqual(2);
    expectPrompt(run);
    expect(run.upstreamRequests).toBe(0);
    const denied = await waitForRows<{ n: number }>(gatehouse, `SELECT count() AS n FROM gatehouse.audit_log WHERE action = 'request.denied' AND actor = 'paula' HAVING n > 0`, 1);
    expect(denied[0]?.n).toBe(1);
  });

  it('budget exhausted: the terminal shows the budget, the spend and when it resets; ≤ 2 requests, ≤ 2 s', async () => {
    const prime = await postTurn(gatehouse.url, KEYS.broke, simpleTurn('gpt-5.5', { input: 'PRIME-SPEND' }));
    expect(prime.status).toBe(200);
    await waitForRows(gatehouse, `SELECT 1 FROM gatehouse.spans WHERE developer = 'bruno' AND cost_usd > 1`, 1);
    const run = await codex(KEYS.broke, 'gpt-5.5', 'add a test');
    const terminal = run.stdout + run.stderr;
    expect(terminal).toMatch(/gatehouse: the daily budget of developer bruno \(cost center broke\) is exhausted: \$1\.25 spent of \$1\.00 \(requests pause at 110%\); it resets/);
    expect(run.code).not.toBe(0);
    expect(run.requests).toBeLessThanOrEqual(2);
    expectPrompt(run);
    expect(run.upstreamRequests).toBe(0);
  });

  it('revoked key: the terminal shows why after one request (was: 401 retried five times, ~7 s of "Reconnecting… 5/5")', async () => {
    const created = await admin(gatehouse.url, 'POST', '/admin/keys', { developer: 'rita', cost_center: 'platform' });
    expect(created.status).toBe(201);
    expect((await admin(gatehouse.url, 'DELETE', `/admin/keys/${created.body.id}`)).status).toBe(200);
    const run = await codex(created.body.key, 'gpt-5.5', 'fix the flaky test');
    const terminal = run.stdout + run.stderr;
    expect(terminal).toContain('gatehouse: this virtual key is unknown or revoked. Ask your platform team for a key');
    // The contract status travels in the body for tools that read it.
    expect(terminal).toContain('"gatehouse":{"code":"invalid_api_key","status":401');
    expect(run.code).not.toBe(0);
    expect(run.requests).toBe(1);
    expectPrompt(run);
    expect(run.upstreamRequests).toBe(0);
  });

  it('retry cap: a session whose command keeps failing is stopped after retry_cap retries with the reason in the terminal', async () => {
    const run = await codex(KEYS.loop, 'gpt-5.5', 'keep running the failing build until it passes');
    const terminal = run.stdout + run.stderr;
    expect(terminal).toContain('gatehouse: this session\'s last 3 tool calls failed in a row, above the retry cap of 2 for cost center \\"loop\\"');
    expect(run.code).not.toBe(0);
    // Turns with 0, 1 and 2 failed results behind them are served; the one with 3 is refused once.
    expect(run.upstreamRequests).toBe(3);
    expect(run.requests).toBe(4);
    expectPrompt(run);
    const rows = await waitForRows<{ status_code: number; error_code: string }>(gatehouse, `SELECT status_code, error_code FROM gatehouse.spans WHERE developer = 'lou' ORDER BY ts`, 4);
    expect(rows.map((row) => row.error_code)).toEqual(['', '', '', 'retry_limit_exceeded']);
    expect(rows.at(-1)?.status_code).toBe(429); // the contract status; Codex got it as a 400
  });
});
