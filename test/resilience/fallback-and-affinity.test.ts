import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream, type ScriptedTurn as ResponsesTurn } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { closedPort, postResponses, sleep, startWebhookReceiver, waitUntil } from './helpers.ts';

/**
 * Fault injection on the primary target of a fallback chain: an OpenAI Responses fake (primary,
 * pass-through) and an Anthropic fake (fallback, translated). Every test is bounded: small
 * timeouts, an affinity window of one second.
 */

const LOCKED_KEY = 'vk_locked_center';
const price = { input: 1, cached_input: 0.1, output: 4 };
const AFFINITY_SECONDS = 1;

interface SpanRow {
  request_id: string;
  served_model: string;
  provider: string;
  status_code: number;
  error_code: string;
  fallback_from: string;
  hop_reason: string;
  attempts: string;
  input_tokens: number;
  output_tokens: number;
}

interface AuditRow {
  subject: string;
  action: string;
  cost_center: string;
  details: string;
}

describe('fallback chains, sticky affinity and the hop record', () => {
  let gatehouse: TestGatehouse;
  let primary: FakeResponsesUpstream;
  let fallback: FakeUpstream;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  /** Upstream model ids that currently fail, by how. */
  const failing = new Map<string, ResponsesTurn['fail'] | 'hang' | 'slow-ok'>();
  const primaryRequestsFor = (model: string) => primary.requests.filter((request) => request.body.model === model).length;

  beforeAll(async () => {
    primary = await startFakeResponsesUpstream((body) => {
      const model = String(body.model);
      const mode = failing.get(model);
      const ok: ResponsesTurn = { output: [{ type: 'message', text: `primary ${model} answers` }], usage: { input_tokens: 120, output_tokens: 12 } };
      if (model === 'p-slow') return { ...ok, eventDelayMillis: 80 };
      if (mode === 'hang') return { ...ok, delayMillis: 3_000 };
      if (mode === 'slow-ok') return { ...ok, eventDelayMillis: 60 };
      if (mode) return { output: [], fail: mode };
      return ok;
    });
    fallback = await startFakeUpstream('anthropic');
    fallback.push(...Array.from({ length: 200 }, () => ({ text: 'the fallback answers', usage: { input: 90, output: 9 } })));
    webhook = await startWebhookReceiver();
    const refusedPort = await closedPort();
    const models: Record<string, unknown> = {
      'claude-fallback': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price, default_max_output_tokens: 8192 },
      'p-refused': { provider: 'refused', upstream: 'gpt-5.5', price },
      'p-slow': { provider: 'limited', upstream: 'p-slow', price },
    };
    for (const name of ['p-429', 'p-500', 'p-503', 'p-hang', 'p-400', 'p-breaker', 'p-boundary', 'p-allow', 'p-unlisted']) models[name] = { provider: 'openai', upstream: name, price };
    const fallbackMap = Object.fromEntries(['p-429', 'p-500', 'p-503', 'p-hang', 'p-refused', 'p-400', 'p-breaker', 'p-slow'].map((name) => [name, ['claude-fallback']]));
    gatehouse = await startTestGatehouse({
      providers: {
        openai: { type: 'openai', base_url: primary.url, api_key: 'sk_test' },
        limited: { type: 'openai', base_url: primary.url, api_key: 'sk_test', max_concurrency: 2 },
        refused: { type: 'openai', base_url: `http://127.0.0.1:${refusedPort}/v1`, api_key: 'sk_test' },
        anthropic: { type: 'anthropic', base_url: fallback.url, api_key: 'sk_test' },
      },
      policy: {
        models,
        cost_centers: {
          platform: {
            allowed_models: Object.keys(models).filter((name) => name !== 'p-unlisted'),
            allowed_providers: ['openai', 'limited', 'refused', 'anthropic'],
            fallback: fallbackMap,
            affinity_seconds: AFFINITY_SECONDS,
          },
          locked: {
            allowed_models: ['p-boundary', 'p-allow', 'claude-fallback'],
            allowed_providers: ['openai'],
            fallback: { 'p-boundary': ['claude-fallback'], 'p-allow': ['p-unlisted'] },
            affinity_seconds: AFFINITY_SECONDS,
          },
        },
        keys: [
          { key: TEST_KEY, developer: 'alice', cost_center: 'platform' },
          { key: LOCKED_KEY, developer: 'bob', cost_center: 'locked' },
        ],
        alerts: { webhook_url: webhook.url },
      },
      configure: (config) => {
        config.timeouts.connect_ms = 500;
        config.timeouts.first_byte_ms = 400;
        config.timeouts.idle_ms = 2_000;
        config.timeouts.total_ms = 10_000;
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await primary?.close();
    await fallback?.close();
    await webhook?.close();
  });

  const spansOf = (sessionId: string, count: number) =>
    waitForRows<SpanRow>(gatehouse, `SELECT request_id, served_model, provider, status_code, error_code, fallback_from, hop_reason, attempts, input_tokens, output_tokens FROM gatehouse.spans WHERE session_id = '${sessionId}' ORDER BY ts, duration_ms`, count);

  const scenarios: { name: string; model: string; fail: ResponsesTurn['fail'] | 'hang' | 'refused'; hopReason: RegExp }[] = [
    { name: 'answers 429', model: 'p-429', fail: { status: 429, code: 'rate_limit_exceeded', retryAfter: '1' }, hopReason: /^429 upstream_rate_limited$/ },
    { name: 'answers 500', model: 'p-500', fail: { status: 500, code: 'server_error' }, hopReason: /^500 upstream_error$/ },
    { name: 'answers 503 (overloaded)', model: 'p-503', fail: { status: 503, code: 'overloaded' }, hopReason: /^503 upstream_error$/ },
    { name: 'hangs past the first-byte timeout', model: 'p-hang', fail: 'hang', hopReason: /^504 upstream_timeout$/ },
    { name: 'refuses connections', model: 'p-refused', fail: 'refused', hopReason: /^503 no_healthy_upstream$/ },
  ];

  it.each(scenarios)('primary $name → served by the fallback, the session sticks to it, then returns to the primary', async ({ model, fail, hopReason }) => {
    const session = `hop-${model}`;
    if (fail !== 'refused') failing.set(model, fail);
    const fallbackBefore = fallback.requests.length;

    const first = await postResponses(gatehouse.url, session, { model });
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'x-gatehouse-provider': 'anthropic', 'x-gatehouse-served-model': 'claude-fallback', 'x-gatehouse-fallback-from': model });
    expect(first.text).toContain('event: response.completed');
    expect(first.text).toContain('the fallback answers');
    // The body names the model that served, as the headers do (not the one that failed).
    const completed = first.text.split('\n').find((line) => line.startsWith('data: ') && line.includes('"response.completed"')) ?? '';
    expect((JSON.parse(completed.slice(6)) as { response: { model: string } }).response.model).toBe('claude-fallback');
    const primaryAfterFirst = primaryRequestsFor(model);
    expect(primaryAfterFirst).toBe(fail === 'refused' ? 0 : 1);
    expect(fallback.requests.length).toBe(fallbackBefore + 1);
    // Anthropic requires max_tokens; the client sent none, so the model's default_max_output_tokens goes.
    expect((fallback.requests.at(-1)?.body as { max_tokens?: number }).max_tokens).toBe(8192);

    // Same session, inside the affinity window: straight to the fallback, the primary sees nothing.
    const second = await postResponses(gatehouse.url, session, { model });
    expect(second.status).toBe(200);
    expect(second.headers['x-gatehouse-provider']).toBe('anthropic');
    expect(primaryRequestsFor(model)).toBe(primaryAfterFirst);
    expect(fallback.requests.length).toBe(fallbackBefore + 2);

    // After the window the session goes back to the primary (healed, except the refusing one).
    failing.delete(model);
    await sleep(AFFINITY_SECONDS * 1000 + 150);
    const third = await postResponses(gatehouse.url, session, { model });
    expect(third.status).toBe(200);
    if (fail === 'refused') {
      expect(third.headers['x-gatehouse-provider']).toBe('anthropic');
      expect(fallback.requests.length).toBe(fallbackBefore + 3);
    } else {
      expect(third.headers['x-gatehouse-provider']).toBe('openai');
      expect(third.headers['x-gatehouse-fallback-from']).toBeUndefined();
      expect(third.text).toContain(`primary ${model} answers`);
      expect(primaryRequestsFor(model)).toBe(primaryAfterFirst + 1);
      expect(fallback.requests.length).toBe(fallbackBefore + 2);
    }
    console.log(`[resilience] ${model}: hop turn ${first.millis.toFixed(1)} ms, affinity turn ${second.millis.toFixed(1)} ms, back-to-primary turn ${third.millis.toFixed(1)} ms`);

    const spans = await spansOf(session, 3);
    expect(spans).toHaveLength(3);
    const [hop, sticky, back] = spans as [SpanRow, SpanRow, SpanRow];
    expect(hop).toMatchObject({ request_id: first.headers['x-gatehouse-request-id'], served_model: 'claude-fallback', provider: 'anthropic', status_code: 200, error_code: '', fallback_from: model, input_tokens: 90, output_tokens: 9 });
    expect(hop.hop_reason).toMatch(hopReason);
    const attempts = JSON.parse(hop.attempts) as { model: string; provider: string; code?: string; status?: number }[];
    expect(attempts.map((attempt) => attempt.model)).toEqual([model, 'claude-fallback']);
    expect(attempts[1]).toMatchObject({ provider: 'anthropic', status: 200 });
    expect(sticky).toMatchObject({ request_id: second.headers['x-gatehouse-request-id'], served_model: 'claude-fallback', provider: 'anthropic', fallback_from: model, hop_reason: 'affinity', attempts: '' });
    if (fail === 'refused') {
      expect(back.fallback_from).toBe(model);
      expect((JSON.parse(back.attempts) as { model: string }[])[0]?.model).toBe(model);
    } else {
      expect(back).toMatchObject({ served_model: model, provider: 'openai', fallback_from: '', hop_reason: '', attempts: '', input_tokens: 120 });
    }

    // The cross-provider hop is on the audit log and went to the webhook.
    const audit = await waitForRows<AuditRow>(gatehouse, `SELECT subject, action, cost_center, details FROM gatehouse.audit_log WHERE action = 'provider.hop' AND subject = '${hop.request_id}'`, 1);
    expect(audit).toHaveLength(1);
    expect(audit[0]?.cost_center).toBe('platform');
    expect(JSON.parse(audit[0]?.details ?? '{}')).toMatchObject({ from_model: model, from_provider: fail === 'refused' ? 'refused' : 'openai', to_model: 'claude-fallback', to_provider: 'anthropic', session_id: session });
    expect(await waitUntil(() => webhook.events.some((event) => event.event === 'provider.hop' && event.session_id === session && event.from_model === model))).toBe(true);
  });

  it('does not fall back on a non-retryable upstream answer (400): the client gets it', async () => {
    failing.set('p-400', { status: 400, code: 'invalid_value', message: 'bad tool schema' });
    const before = fallback.requests.length;
    const answer = await postResponses(gatehouse.url, 'hop-400', { model: 'p-400' });
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.text).error;
    expect(error.message).toContain('bad tool schema');
    // The upstream decided: its own code reaches the client; the gateway's is kept beside it.
    expect(error.code).toBe('invalid_value');
    expect(error.gatehouse.code).toBe('invalid_request');
    expect(fallback.requests.length).toBe(before);
  });

  it('re-checks the provider boundary and the allow-list for each fallback target', async () => {
    failing.set('p-boundary', { status: 500 });
    failing.set('p-allow', { status: 500 });
    const before = fallback.requests.length;
    const crossing = await postResponses(gatehouse.url, 'hop-boundary', { model: 'p-boundary' }, { authorization: `Bearer ${LOCKED_KEY}` });
    expect(crossing.status).toBe(403);
    expect(JSON.parse(crossing.text).error).toMatchObject({ code: 'provider_not_allowed' });
    expect(JSON.parse(crossing.text).error.message).toContain('anthropic');
    // The body still lists the primary's failed attempt that led to the refused fallback.
    expect(JSON.parse(crossing.text).error.gatehouse.attempts).toMatchObject([{ model: 'p-boundary', status: 500 }]);
    const unlisted = await postResponses(gatehouse.url, 'hop-allow', { model: 'p-allow' }, { authorization: `Bearer ${LOCKED_KEY}` });
    expect(unlisted.status).toBe(403);
    expect(JSON.parse(unlisted.text).error).toMatchObject({ code: 'model_not_allowed' });
    expect(primaryRequestsFor('p-unlisted')).toBe(0);
    expect(fallback.requests.length).toBe(before);
    const denied = await waitForRows<AuditRow>(gatehouse, `SELECT subject, action, cost_center, details FROM gatehouse.audit_log WHERE action = 'request.denied' AND cost_center = 'locked'`, 2);
    expect(denied.map((row) => JSON.parse(row.details).code).sort()).toEqual(['model_not_allowed', 'provider_not_allowed']);
  });

  it('opens the circuit after 5 consecutive failures (the next request skips the primary), probes one at a time when half-open, closes on success', async () => {
    failing.set('p-breaker', { status: 502 });
    for (let index = 0; index < 5; index++) {
      const answer = await postResponses(gatehouse.url, `breaker-${index}`, { model: 'p-breaker' });
      expect(answer.headers['x-gatehouse-provider']).toBe('anthropic');
    }
    expect(primaryRequestsFor('p-breaker')).toBe(5);
    const skipped = await postResponses(gatehouse.url, 'breaker-open', { model: 'p-breaker' });
    expect(skipped.status).toBe(200);
    expect(skipped.headers['x-gatehouse-provider']).toBe('anthropic');
    expect(primaryRequestsFor('p-breaker')).toBe(5);
    const [span] = await spansOf('breaker-open', 1);
    expect(JSON.parse(span?.attempts ?? '[]')[0]).toMatchObject({ model: 'p-breaker', code: 'circuit_open' });
    const metrics = await (await fetch(`${gatehouse.url}/metrics`)).text();
    expect(metrics).toContain('gatehouse_upstream_circuit_state{target="openai/p-breaker"} 2');

    // After the 10 s cool-down the circuit is half-open: one probe at a time reaches the primary,
    // the others go down the chain; a successful probe closes the circuit.
    failing.set('p-breaker', 'slow-ok');
    await sleep(10_100);
    const probes = await Promise.all([0, 1, 2].map((index) => postResponses(gatehouse.url, `breaker-probe-${index}`, { model: 'p-breaker' })));
    expect(probes.every((answer) => answer.status === 200)).toBe(true);
    expect(probes.map((answer) => answer.headers['x-gatehouse-provider']).sort()).toEqual(['anthropic', 'anthropic', 'openai']);
    expect(primaryRequestsFor('p-breaker')).toBe(6);
    const closed = await (await fetch(`${gatehouse.url}/metrics`)).text();
    expect(closed).toContain('gatehouse_upstream_circuit_state{target="openai/p-breaker"} 0');
    failing.delete('p-breaker');
    expect((await postResponses(gatehouse.url, 'breaker-closed', { model: 'p-breaker' })).headers['x-gatehouse-provider']).toBe('openai');
  });

  it('sends requests beyond a target\'s max_concurrency down the chain instead of queueing them', async () => {
    const before = fallback.requests.length;
    const answers = await Promise.all([0, 1, 2, 3].map((index) => postResponses(gatehouse.url, `limited-${index}`, { model: 'p-slow' })));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const providers = answers.map((answer) => answer.headers['x-gatehouse-provider']).sort();
    expect(providers).toEqual(['anthropic', 'anthropic', 'limited', 'limited']);
    expect(fallback.requests.length).toBe(before + 2);
    const spans = await waitForRows<SpanRow>(gatehouse, `SELECT request_id, served_model, provider, status_code, error_code, fallback_from, hop_reason, attempts, input_tokens, output_tokens FROM gatehouse.spans WHERE session_id LIKE 'limited-%' AND provider = 'anthropic'`, 2);
    for (const span of spans) expect(JSON.parse(span.attempts)[0]).toMatchObject({ model: 'p-slow', code: 'concurrency_limit' });
  });
});
