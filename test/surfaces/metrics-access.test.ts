import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/** `/metrics` carries spend per cost center: with admin.metrics_requires_token it answers admin tokens only. */
const providers = { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } };
const tokens = [{ name: 'test-admin', role: 'admin', token: TEST_ADMIN_TOKEN }, { name: 'test-analyst', role: 'analyst', token: TEST_ANALYST_TOKEN }];
let guarded: TestGatehouse;

beforeAll(async () => {
  guarded = await startTestGatehouse({ providers, extraConfig: { admin: { tokens, metrics_requires_token: true } } });
}, 60_000);
afterAll(async () => {
  await guarded?.stop();
});

const scrape = async (url: string, token?: string) => {
  const response = await request(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.statusCode, text: await response.body.text() };
};

describe('/metrics access', () => {
  it('refuses a scrape without a token, and one with a client key, with the structured 401', async () => {
    const anonymous = await scrape(guarded.url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).toContain('admin token');
    expect(anonymous.text).not.toContain('gatehouse_');
    expect((await scrape(guarded.url, 'vk_test')).status).toBe(401);
  });

  it('answers an analyst token (what a scraper is given) and an admin token', async () => {
    for (const token of [TEST_ANALYST_TOKEN, TEST_ADMIN_TOKEN]) {
      const scraped = await scrape(guarded.url, token);
      expect(scraped.status).toBe(200);
      expect(scraped.text).toContain('gatehouse_');
    }
  });

  it('leaves /healthz and /readyz open for probes', async () => {
    expect((await request(`${guarded.url}/healthz`)).statusCode).toBe(200);
    expect([200, 503]).toContain((await request(`${guarded.url}/readyz`)).statusCode);
  });
});
