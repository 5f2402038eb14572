import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { postTurn, simpleTurn } from './helpers/e2e-client.ts';

/**
 * The downgrade band with an expensive model (issue 16): a $5/day developer budget and a model at
 * $25 per million output tokens with a 32K output cap reserve $0.80 a turn, more than the $0.75
 * between the downgrade line (95%) and the pause line (110%). The reservation must be priced at the
 * model the policy serves there (the cheaper one, $0.064), so the developer keeps being served by
 * it until the pause line, never paused at 96% with "this request could cross it".
 */

const KEY = 'vk_band_dev';
const policy = {
  models: {
    opus: { provider: 'openai', upstream: 'opus-upstream', price: { input: 0, output: 25 }, max_output_tokens: 32_000 },
    sonnet: { provider: 'openai', upstream: 'sonnet-upstream', price: { input: 0, output: 2 }, max_output_tokens: 32_000 },
  },
  cost_centers: {
    band: { allowed_models: ['opus', 'sonnet'], budgets: { developer: { daily_usd: 5 } }, downgrade: { opus: 'sonnet' } },
  },
  keys: [{ key: KEY, developer: 'dana', cost_center: 'band' }],
};

describe('the 95–110% band serves the cheaper model when the requested one costs more than the band', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  /** Output tokens the fake reports for the next answer. */
  const outputs: number[] = [];

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 0, output_tokens: outputs.shift() ?? 25_000 } }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('at 96% the expensive request is served by the cheaper model, every turn, until spend + its worst case would pass 110%', async () => {
    outputs.push(192_000); // 192K × $25/M = $4.80: 96% of $5
    const prime = await postTurn(gatehouse.url, KEY, simpleTurn('opus'));
    expect(prime.status).toBe(200);
    expect(prime.headers['x-gatehouse-served-model']).toBe('opus');

    // Each cheaper turn costs 25K × $2/M = $0.05; its worst case is 32K × $2/M = $0.064.
    let spend = 4.8;
    const served: string[] = [];
    let paused: { status: number; body: any } | undefined;
    for (let turn = 0; turn < 20 && paused === undefined; turn++) {
      outputs.push(25_000);
      const answer = await postTurn(gatehouse.url, KEY, simpleTurn('opus', { stream: false }));
      if (answer.status !== 200) {
        paused = answer;
        outputs.shift();
        break;
      }
      expect(answer.headers['x-gatehouse-budget-stage']).toBe('downgrade');
      expect(answer.headers['x-gatehouse-downgraded-from']).toBe('opus');
      served.push(String(answer.headers['x-gatehouse-served-model']));
      spend += 0.05;
    }
    // Never paused early: served from 96% up to the last turn whose worst case still fits under $5.50.
    expect(served.length).toBe(13);
    expect(new Set(served)).toEqual(new Set(['sonnet']));
    expect(spend + 0.064).toBeGreaterThan(5.5);
    expect(paused?.status).toBe(429);
    expect(paused?.body.error.code).toBe('budget_exhausted');
    expect(paused?.body.error.message).toContain('$5.45 spent of $5.00 (requests pause at 110%, and this request could cross it)');
  });
});
