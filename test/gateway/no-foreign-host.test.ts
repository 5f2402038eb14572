import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { request } from 'undici';
import { startFakeServer, type FakeServer, type RenderTurn } from '../helpers/fake-upstreams/fake-server.ts';
import { renderAnthropicTurn } from '../helpers/fake-upstreams/fake-anthropic.ts';
import { renderBedrockTurn } from '../helpers/fake-upstreams/fake-bedrock.ts';
import { renderGeminiTurn } from '../helpers/fake-upstreams/fake-gemini.ts';
import { renderOpenAIChatTurn } from '../helpers/fake-upstreams/fake-openai-chat.ts';
import { renderOpenAIResponsesTurn } from '../helpers/fake-upstreams/fake-openai-responses.ts';
import { DeploymentConfigSchema } from '../../shared/config/config-schema.ts';
import { startTestGatehouse, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/**
 * Every provider type configured WITHOUT base_url must send its requests (and its key) to its own
 * vendor only. The vendors' hostnames are redirected to loopback fakes by replacing `tls.connect`
 * (what undici's connector calls) for this test file: each TLS connection is recorded with the
 * host and SNI name it was meant for and handed a plain socket to the fake of that vendor.
 * Nothing leaves the machine; a connection to any other host fails and is recorded too.
 */
interface Connection {
  host: string;
  port: number;
  servername: string | undefined;
}

const connections: Connection[] = [];
const vendorPorts = new Map<string, number>();
const originalTlsConnect = tls.connect;

function redirectVendorHosts(): void {
  (tls as { connect: unknown }).connect = (options: tls.ConnectionOptions) => {
    const host = String(options.host ?? '');
    connections.push({ host, port: Number(options.port ?? 443), servername: options.servername ?? undefined });
    const fakePort = vendorPorts.get(host);
    // Unknown host: a socket that fails, as an unreachable one would (and the test sees it recorded).
    const socket = net.connect({ host: '127.0.0.1', port: fakePort ?? 1 });
    socket.once('connect', () => socket.emit('secureConnect'));
    return socket;
  };
}

interface Case {
  /** Provider name in the config (and the policy model `m-<name>`). */
  name: string;
  provider: Record<string, unknown>;
  host: string;
  /** The request path the vendor must see. */
  path: RegExp;
  keyHeader: [string, string];
}

const CASES: Case[] = [
  { name: 'openai', provider: { type: 'openai', api_key: 'sk_openai' }, host: 'api.openai.com', path: /^\/v1\/responses$/, keyHeader: ['authorization', 'Bearer sk_openai'] },
  { name: 'anthropic', provider: { type: 'anthropic', api_key: 'sk_anthropic' }, host: 'api.anthropic.com', path: /^\/v1\/messages(\?beta=true)?$/, keyHeader: ['x-api-key', 'sk_anthropic'] },
  { name: 'gemini', provider: { type: 'gemini', api_key: 'sk_gemini' }, host: 'generativelanguage.googleapis.com', path: /^\/v1beta\/models\/vendor-model:streamGenerateContent\?alt=sse$/, keyHeader: ['x-goog-api-key', 'sk_gemini'] },
  { name: 'bedrock', provider: { type: 'bedrock', region: 'eu-west-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }, host: 'bedrock-runtime.eu-west-1.amazonaws.com', path: /^\/model\/vendor-model\/converse-stream$/, keyHeader: ['authorization', 'AWS4-HMAC-SHA256 Credential=AKIDTEST/'] },
  { name: 'openai-chat', provider: { type: 'openai-chat', api_key: 'sk_chat' }, host: 'api.openai.com', path: /^\/v1\/chat\/completions$/, keyHeader: ['authorization', 'Bearer sk_chat'] },
  { name: 'groq', provider: { type: 'openai-chat', preset: 'groq', api_key: 'sk_groq' }, host: 'api.groq.com', path: /^\/openai\/v1\/chat\/completions$/, keyHeader: ['authorization', 'Bearer sk_groq'] },
];

const ROUTES: [string, (model: string) => Record<string, unknown>][] = [
  ['/v1/responses', (model) => ({ model, stream: true, input: 'hi' })],
  ['/v1/chat/completions', (model) => ({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] })],
  ['/v1/messages?beta=true', (model) => ({ model, stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })],
];

/** One loopback fake per vendor host; api.openai.com serves Responses and Chat by path, as the real one does. */
const RENDER_BY_HOST: Record<string, RenderTurn> = {
  'api.openai.com': (turn, recorded) => (recorded.url.includes('/chat/completions') ? renderOpenAIChatTurn(turn, recorded) : renderOpenAIResponsesTurn(turn, recorded)),
  'api.anthropic.com': renderAnthropicTurn,
  'generativelanguage.googleapis.com': renderGeminiTurn,
  'bedrock-runtime.eu-west-1.amazonaws.com': renderBedrockTurn,
  'api.groq.com': renderOpenAIChatTurn,
};

describe('a provider without base_url talks to its own vendor only', () => {
  const fakes = new Map<string, FakeServer>();
  let gatehouse: TestGatehouse;
  beforeAll(async () => {
    for (const [host, render] of Object.entries(RENDER_BY_HOST)) {
      const fake = await startFakeServer(render, []);
      fakes.set(host, fake);
      vendorPorts.set(host, Number(new URL(fake.url).port));
    }
    redirectVendorHosts();
    const models = Object.fromEntries(CASES.map((testCase) => [`m-${testCase.name}`, { provider: testCase.name, upstream: 'vendor-model', price: { input: 1, cached_input: 0.1, output: 2 } }]));
    gatehouse = await startTestGatehouse({
      providers: Object.fromEntries(CASES.map((testCase) => [testCase.name, testCase.provider])),
      policy: { models, cost_centers: { platform: { allowed_models: Object.keys(models) } }, keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }] },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    (tls as { connect: unknown }).connect = originalTlsConnect;
    for (const fake of fakes.values()) await fake.close();
  });

  for (const testCase of CASES) {
    for (const [route, body] of ROUTES) {
      it(`${testCase.name}: ${route} goes to https://${testCase.host} with the ${testCase.keyHeader[0]} key`, async () => {
        const fake = fakes.get(testCase.host)!;
        fake.push({ text: 'hello from the vendor', chunkSize: 100 });
        const before = connections.length;
        const requestsBefore = fake.requests.length;
        const response = await request(`${gatehouse.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` }, body: JSON.stringify(body(`m-${testCase.name}`)) });
        const text = await response.body.text();
        expect(response.statusCode, text).toBe(200);
        expect(text).toContain('hello from the vendor');
        // Any new connection was opened to the vendor's host on 443 with its SNI name (kept-alive ones are reused).
        for (const connection of connections.slice(before)) expect(connection).toEqual({ host: testCase.host, port: 443, servername: testCase.host });
        expect(fake.requests).toHaveLength(requestsBefore + 1);
        const seen = fake.requests[requestsBefore];
        expect(seen?.headers.host).toBe(testCase.host);
        expect(seen?.url).toMatch(testCase.path);
        expect(seen?.headers[testCase.keyHeader[0]]).toContain(testCase.keyHeader[1]);
        // The virtual key never goes upstream.
        expect(JSON.stringify(seen?.headers)).not.toContain(TEST_KEY);
      });
    }
  }

  it('no connection went anywhere but the vendors of the configured providers', () => {
    const vendors = new Set(CASES.map((testCase) => testCase.host));
    expect(new Set(connections.map((connection) => connection.host))).toEqual(vendors);
  });
});

describe('configuration', () => {
  it('azure-openai without base_url is refused at start, naming the field', async () => {
    expect(() => DeploymentConfigSchema.parse({ providers: { azure: { type: 'azure-openai', api_key: 'sk_azure' } } })).toThrow(/azure-openai needs base_url/);
    const issues = DeploymentConfigSchema.safeParse({ providers: { azure: { type: 'azure-openai', api_key: 'sk_azure' } } }).error?.issues ?? [];
    expect(issues.map((issue) => issue.path.join('.'))).toEqual(['providers.azure.base_url']);
  });
});
