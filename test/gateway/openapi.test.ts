import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';

/** Issue 19 (admin API discoverability): GET /openapi.json is a valid OpenAPI 3.1 document of the routes. */
describe('GET /openapi.json', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let document: Record<string, any>;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }] }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy: testPolicy() });
    const response = await fetch(`${gatehouse.url}/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as Record<string, any>;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('validates as OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes the client routes and the contract admin routes, with request bodies from the zod schemas the handlers use', () => {
    const paths = document.paths as Record<string, Record<string, any>>;
    for (const [path, method] of [
      ['/v1/responses', 'post'], ['/v1/chat/completions', 'post'], ['/v1/messages', 'post'], ['/v1/models', 'get'],
      ['/admin/keys', 'post'], ['/admin/keys', 'get'], ['/admin/keys/{id}', 'delete'], ['/admin/policy', 'get'], ['/admin/policy/versions', 'get'],
      ['/admin/policy/proposals', 'post'], ['/admin/policy/proposals/{id}/approve', 'post'], ['/admin/policy/rollback', 'post'],
      ['/admin/audit', 'get'], ['/admin/audit/verify', 'get'], ['/admin/sql', 'post'], ['/admin/models', 'get'], ['/healthz', 'get'], ['/readyz', 'get'], ['/metrics', 'get'],
    ] as const) {
      expect(paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
    }
    const createKey = paths['/admin/keys']!.post.requestBody.content['application/json'].schema;
    expect(createKey.required).toEqual(expect.arrayContaining(['developer', 'cost_center']));
    expect(createKey.additionalProperties).toBe(false);
    expect(paths['/admin/policy/proposals/{id}/approve']!.post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['signature']));
    expect(paths['/v1/responses']!.post.security).toEqual([{ virtualKey: [] }]);
    expect(paths['/admin/keys']!.post.security).toEqual([{ adminToken: [] }]);
    // The console's files and the ClickHouse-compatible endpoint are not API.
    expect(Object.keys(paths).some((path) => path.startsWith('/console') || path.startsWith('/clickhouse'))).toBe(false);
  });

  it('documents without validating: a bad admin body still gets the catalog error from zod, not a Fastify schema error', async () => {
    const response = await fetch(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ developer: 'x' }) });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/^gatehouse: cost_center/);
  });
});
