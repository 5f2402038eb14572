import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin } from '../e2e/helpers/e2e-client.ts';

/** GET /admin/optimizer/status: what the console shows per cost center, warm-up from the policy included. */
describe('optimizer status route', () => {
  let gatehouse: TestGatehouse;
  beforeAll(async () => {
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } },
      policy: testPolicy({ optimizer: { warm_up: { min_days: 3, min_turns: 50 } } }),
      extraConfig: { optimizer: { seed: 42, interval_seconds: 86_400, guard_interval_seconds: 3_600 } },
    });
  }, 60_000);
  afterAll(async () => {
    await gatehouse?.stop();
  });

  it('says for each cost center what is missing, with the policy warm-up', async () => {
    const answer = await admin(gatehouse.url, 'GET', '/admin/optimizer/status');
    expect(answer.status).toBe(200);
    const [platform] = answer.body.results as { costCenter: string; status: string; missing: { requirement: string; message: string }[] }[];
    expect(platform).toMatchObject({ costCenter: 'platform', status: 'insufficient_data' });
    expect(platform?.missing.map((entry) => entry.message)).toEqual(['needs 3 more day(s) of traffic (have 0 of 3)', 'needs 50 more turns (have 0 of 50)', 'needs 300 more scored turns (have 0 of 300)']);
  }, 60_000);
});
