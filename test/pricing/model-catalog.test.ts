import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, postTurn, simpleTurn } from '../e2e/helpers/e2e-client.ts';
import { CATALOG_VERSION, catalogPrice, resolveModelPrice } from '../../shared/pricing/model-catalog.ts';
import { computeCostUsd } from '../../gateway/accounting/compute-cost.ts';
import { parsePolicyDocument } from '../../shared/config/load-config.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TEST_ANALYST_TOKEN } from '../helpers/start-test-gatehouse.ts';

const run = promisify(execFile);

/**
 * Issue 19 (model catalog): a policy model without `price` is billed at the maintained catalog's price
 * (@pydantic/genai-prices), a policy price overrides it, the span says which, and /admin/models lists both.
 */
const usage = (input: number, cached: number, output: number) => ({ inputTokens: input, cachedInputTokens: cached, cacheWriteTokens: 0, outputTokens: output, reasoningTokens: 0 });

describe('model catalog', () => {
  it('takes prices from the catalog package, with cached and long-context rates, and agrees with its own calculator', () => {
    const resolved = catalogPrice('gpt-5.5', { providerKind: 'openai' });
    expect(resolved?.source).toBe(`catalog:@pydantic/genai-prices@${CATALOG_VERSION}:openai/gpt-5.5`);
    expect(resolved?.price.input).toBeGreaterThan(0);
    expect(resolved?.price.cached_input).toBeLessThan(resolved!.price.input);
    expect(resolved?.contextWindow).toBeGreaterThan(100_000);
    // The same turn priced by the catalog's own calculator: below and above the long-context threshold.
    for (const [input, cached, output] of [[20_000, 15_000, 800], [300_000, 250_000, 2_000]] as const) {
      const expected = calcPrice({ input_tokens: input, cache_read_tokens: cached, output_tokens: output }, 'gpt-5.5', { providerId: 'openai' })!.total_price;
      expect(computeCostUsd(usage(input, cached, output), resolved!.price)).toBeCloseTo(expected, 9);
    }
    const anthropic = catalogPrice('claude-sonnet-4-5', { providerKind: 'anthropic' });
    expect(anthropic?.price.cache_write).toBeGreaterThan(anthropic!.price.input);
  });

  it('a policy price wins over the catalog and is labelled policy', () => {
    const resolved = resolveModelPrice({ upstream: 'gpt-5.5', price: { input: 1, output: 2 } }, { providerKind: 'openai' });
    expect(resolved).toMatchObject({ price: { input: 1, output: 2 }, source: 'policy' });
    expect(resolved?.contextWindow).toBeGreaterThan(0);
  });

  it('refuses at load a model the catalog does not know and that has no price, naming the model and what to add', () => {
    const document = {
      models: { mystery: { provider: 'openai', upstream: 'mystery-model-9000' }, known: { provider: 'openai', upstream: 'gpt-5.5' } },
      cost_centers: { platform: { allowed_models: ['mystery', 'known'] } },
    };
    expect(() => parsePolicyDocument(document)).toThrow(/models\.mystery\.price.*catalog has no price for "mystery-model-9000"/s);
    expect(() => parsePolicyDocument({ ...document, models: { known: document.models.known }, cost_centers: { platform: { allowed_models: ['known'] } } })).not.toThrow();
  });
});

describe('a policy without prices serves and costs correctly (embedded gateway)', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let folder: string;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-catalog-'));
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 40_000, cached_tokens: 30_000, output_tokens: 1_000 } }));
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: {
        models: {
          'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5' },
          'gpt-5-mini': { provider: 'openai', upstream: 'gpt-5-mini', price: { input: 1, cached_input: 0.5, output: 4 } },
        },
        cost_centers: { platform: { allowed_models: ['gpt-5.5', 'gpt-5-mini'] } },
        keys: [{ key: 'vk_catalog', developer: 'alice', cost_center: 'platform' }],
      },
      dataDir: join(folder, 'data'),
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('bills the catalog price, records its source on the span, and lets a policy price override', async () => {
    const catalogTurn = await postTurn(gatehouse.url, 'vk_catalog', simpleTurn('gpt-5.5'));
    const overrideTurn = await postTurn(gatehouse.url, 'vk_catalog', simpleTurn('gpt-5-mini'));
    expect([catalogTurn.status, overrideTurn.status]).toEqual([200, 200]);
    const rows = await waitForRows<{ served_model: string; cost_usd: number; price_source: string }>(
      gatehouse,
      `SELECT served_model, cost_usd, price_source FROM gatehouse.spans WHERE request_id IN ('${String(catalogTurn.headers['x-gatehouse-request-id'])}', '${String(overrideTurn.headers['x-gatehouse-request-id'])}') ORDER BY served_model`,
      2,
    );
    const expectedCatalog = calcPrice({ input_tokens: 40_000, cache_read_tokens: 30_000, output_tokens: 1_000 }, 'gpt-5.5', { providerId: 'openai' })!.total_price;
    expect(rows[0]).toMatchObject({ served_model: 'gpt-5-mini', price_source: 'policy' });
    expect(rows[0]!.cost_usd).toBeCloseTo((10_000 * 1 + 30_000 * 0.5 + 1_000 * 4) / 1e6, 9);
    expect(rows[1]).toMatchObject({ served_model: 'gpt-5.5', price_source: `catalog:@pydantic/genai-prices@${CATALOG_VERSION}:openai/gpt-5.5` });
    expect(rows[1]!.cost_usd).toBeCloseTo(expectedCatalog, 9);
  });

  it('GET /admin/models lists every model with its price and where it came from', async () => {
    const answer = await admin(gatehouse.url, 'GET', '/admin/models');
    expect(answer.status).toBe(200);
    const byName = Object.fromEntries((answer.body.models as { name: string }[]).map((model) => [model.name, model]));
    expect(byName['gpt-5.5']).toMatchObject({ provider: 'openai', provider_type: 'openai', servable: true, price_source: expect.stringMatching(/^catalog:/), cost_centers: ['platform'] });
    expect(byName['gpt-5-mini']).toMatchObject({ price: { input: 1, cached_input: 0.5, output: 4 }, price_source: 'policy' });
  });

  it('npx gatehouse models prints each model with its price and source (table and --json), with an analyst token', async () => {
    const env = { PATH: process.env.PATH, COLUMNS: '200', GATEHOUSE_URL: gatehouse.url, GATEHOUSE_TOKEN: TEST_ANALYST_TOKEN };
    const table = await run(process.execPath, ['bin/gatehouse.mjs', 'models'], { env, timeout: 30_000 });
    const line = (name: string) => table.stdout.split('\n').find((row) => row.includes(` ${name} `) || row.startsWith(`${name} `)) ?? '';
    expect(line('gpt-5.5')).toMatch(/catalog:@pydantic\/genai-prices@[\d.]+:openai\/gpt-5\.5/);
    expect(line('gpt-5-mini')).toMatch(/\$1\.00.*\$0\.500.*\$4\.00.*policy/);
    expect(table.stdout).toContain('prices without a policy price come from @pydantic/genai-prices@');
    const json = JSON.parse((await run(process.execPath, ['bin/gatehouse.mjs', 'models', '--json'], { env, timeout: 30_000 })).stdout) as { name: string; price_source: string }[];
    expect(json.map((model) => model.name).sort()).toEqual(['gpt-5-mini', 'gpt-5.5']);
  });
});
