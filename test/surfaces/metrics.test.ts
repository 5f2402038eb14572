import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, testPolicy, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { METRIC_PREFIX } from '../../shared/telemetry/metric-names.ts';

/** $ per turn at gpt-5.5's test price: (2,000 uncached × 1.25 + 8,000 cached × 0.125 + 300 output × 10) / 1e6. */
const TURN_COST_USD = 0.0065;

/** Samples of one metric: labels (as written) → value. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) found.set(match[2] ?? '', Number(match[3]));
  }
  return found;
}

describe('/metrics after a few requests', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let text: string;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 10_000, cached_tokens: 8_000, output_tokens: 300, reasoning_tokens: 120 } }));
    const policy = testPolicy();
    (policy.cost_centers as Record<string, Record<string, unknown>>).platform = {
      allowed_models: ['gpt-5.5', 'gpt-5.1-mini'],
      allowed_providers: ['openai'],
      // Three turns spend $0.0195 of $0.01: alert (50 %) and downgrade (90 %) are each crossed once; pause is far.
      budgets: { cost_center: { daily_usd: 0.01 } },
      stages: { alert: 0.5, downgrade: 0.9, pause: 100 },
    };
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
    const post = (model: string) =>
      fetch(`${gatehouse.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` }, body: JSON.stringify({ model, input: 'hello', stream: true }) }).then((response) => response.text());
    for (let turn = 0; turn < 3; turn += 1) await post('gpt-5.5');
    await post('gpt-4o-not-allowed');
    text = await (await fetch(`${gatehouse.url}/metrics`)).text();
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('has one prefix on every metric, no blank lines, and only well-formed lines', () => {
    const lines = text.replace(/\n$/, '').split('\n');
    expect(lines.filter((line) => line.trim() === '')).toEqual([]);
    for (const line of lines) {
      const name = line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/)[0];
      expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+)$/);
      expect(name?.startsWith(METRIC_PREFIX), line).toBe(true);
      expect(name?.startsWith(`${METRIC_PREFIX}process_process_`), line).toBe(false);
    }
    expect(samples(text, 'gatehouse_process_cpu_seconds_total').size).toBe(1);
  });

  it('counts requests by model, provider and cost center, and denials by code', () => {
    const requests = samples(text, 'gatehouse_requests_total');
    expect(requests.get('{inbound="openai-responses",status="200",code="",model="gpt-5.5",provider="openai",cost_center="platform"}')).toBe(3);
    // A model the policy does not define is labelled `other`: the client picks that string, and each value would be a series kept for good.
    expect(requests.get('{inbound="openai-responses",status="403",code="model_not_allowed",model="other",provider="",cost_center="platform"}')).toBe(1);
    expect(text).not.toContain('gpt-4o-not-allowed');
    expect(samples(text, 'gatehouse_denials_total')).toEqual(new Map([['{code="model_not_allowed",cost_center="platform"}', 1]]));
  });

  it('counts tokens by type and cost in USD by model, provider and cost center', () => {
    const tokens = samples(text, 'gatehouse_tokens_total');
    const labels = (type: string) => `{type="${type}",model="gpt-5.5",provider="openai",cost_center="platform"}`;
    expect(tokens.get(labels('input'))).toBe(30_000);
    expect(tokens.get(labels('cached_input'))).toBe(24_000);
    expect(tokens.get(labels('output'))).toBe(900);
    expect(tokens.get(labels('reasoning'))).toBe(360);
    const cost = samples(text, 'gatehouse_cost_usd_total').get('{model="gpt-5.5",provider="openai",cost_center="platform"}');
    expect(cost).toBeCloseTo(3 * TURN_COST_USD, 9);
  });

  it('counts each budget stage crossing once per period', () => {
    expect(samples(text, 'gatehouse_budget_stage_transitions_total')).toEqual(
      new Map([
        ['{cost_center="platform",stage="alert",scope="cost_center"}', 1],
        ['{cost_center="platform",stage="downgrade",scope="cost_center"}', 1],
      ]),
    );
  });

  it('the Grafana dashboard in deploy/ charts only metrics the gateway exposes', () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name as string])));
    const charted = new Set(dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => target.expr.match(/\bgatehouse_[a-z_]+/g) ?? []));
    expect(charted.size).toBeGreaterThan(15);
    expect([...charted].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
