import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderErrorBody } from '../../../gateway/errors/render-error.ts';
import { GatewayError } from '../../../gateway/errors/gateway-error.ts';
import { forwardTranslated } from '../../../gateway/forward/forward-translated.ts';
import type { ForwardOutcome, InboundProtocol, ResolvedTarget } from '../../../gateway/forward/forward-types.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { startFakeUpstream, type FakeProvider, type FakeUpstream } from '../../helpers/fake-upstreams/index.ts';
import { memorySink } from '../../helpers/memory-sink.ts';
import { checkAnthropic, checkChatChunk } from '../../helpers/protocol-schemas.ts';
import { readAnswer, type ClientAnswer } from './client-answer.ts';
import { CLIENTS, FEATURES, NOT_COVERED, PASS_THROUGH, PATCH, requestFor, scriptFor, UNSUPPORTED, UPSTREAM_REJECTION, UPSTREAMS, type Feature } from './client-conformance-cases.ts';
import { renderConformance, type Cell } from './render-conformance.ts';

/**
 * The conformance battery per client protocol × translated upstream × feature: every answer (body
 * and each stream event, streaming and not) is validated against the client protocol's published
 * schema (see test/helpers/protocol-schemas.ts), and what the client understood is checked against
 * what the upstream said. The results are docs/CONFORMANCE.md: the test fails when that page
 * differs from what it measured (GATEHOUSE_WRITE_CONFORMANCE=1 rewrites it).
 */

const CONFIGS: Record<FakeProvider, (url: string) => ProviderConfig> = {
  openai: (url) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk_test' }),
  'azure-openai': (url) => ({ type: 'azure-openai', base_url: url, api_key: 'sk_test', api_version: '2025-04-01-preview' }),
  'openai-chat': (url) => ({ type: 'openai-chat', preset: 'vllm', base_url: `${url}/v1`, api_key: 'sk_test' }),
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
};

const cells = new Map<string, Cell>();
const cellKey = (client: InboundProtocol, upstream: FakeProvider, feature: Feature) => `${client}|${upstream}|${feature}`;
const upstreams = new Map<FakeProvider, FakeUpstream>();
let requestCounter = 0;

beforeAll(async () => {
  for (const upstream of UPSTREAMS) upstreams.set(upstream, await startFakeUpstream(upstream));
});

afterAll(async () => {
  for (const upstream of upstreams.values()) await upstream.close();
  const page = renderConformance(cells);
  const file = new URL('../../../docs/CONFORMANCE.md', import.meta.url);
  if (process.env['GATEHOUSE_WRITE_CONFORMANCE'] === '1') writeFileSync(file, page);
  else expect(readFileSync(file, 'utf8'), 'docs/CONFORMANCE.md is not what the battery measured: run it with GATEHOUSE_WRITE_CONFORMANCE=1 and commit the page').toBe(page);
});

function target(upstream: FakeProvider): ResolvedTarget {
  return { model: 'served-model', upstreamModel: 'upstream-model', providerName: upstream, provider: CONFIGS[upstream](upstreams.get(upstream)!.url), price: { input: 1, cached_input: 0.1, output: 2 }, defaultMaxOutputTokens: 8192 } as ResolvedTarget;
}

/** Runs one request through the translation; the answer as the client got it. */
async function run(client: InboundProtocol, upstream: FakeProvider, feature: Feature, stream: boolean): Promise<{ answer: ClientAnswer; outcome: ForwardOutcome; wire: string }> {
  const fake = upstreams.get(upstream)!;
  fake.push(scriptFor(feature, upstream));
  const sink = memorySink();
  const body = requestFor(client, feature, stream);
  const outcome = await forwardTranslated({
    inbound: client,
    body,
    rawBody: Buffer.from(JSON.stringify(body)),
    forwardHeaders: {},
    target: target(upstream),
    stream,
    sink,
    timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 10_000 },
    sessionId: 'session-1',
    requestId: `req_conf_${++requestCounter}`,
  });
  return { answer: await readAnswer(client, stream, sink.text()), outcome, wire: JSON.stringify(fake.requests.at(-1)?.body ?? {}) };
}

/** What the client must have understood for a feature (throws an assertion error when not). */
function expectFeature(client: InboundProtocol, upstream: FakeProvider, feature: Feature, answer: ClientAnswer, wire: string, stream: boolean): void {
  const functionCall = (cmd: string) => expect.objectContaining({ name: 'exec_command', kind: 'function', input: JSON.stringify({ cmd }) });
  switch (feature) {
    case 'text':
    case 'streaming':
      return void expect(answer.text).toBe('Hello from upstream');
    case 'reasoning':
      expect(answer.text).toBe('Done.');
      // Chat upstreams carry readable reasoning; the others too. A client always sees it as its own kind.
      return void expect(answer.reasoning).toBe('Thinking about files.');
    case 'function tools':
      return void expect(answer.calls).toEqual([functionCall('ls -la')]);
    case 'parallel calls':
      return void expect(answer.calls).toEqual([functionCall('ls'), functionCall('pwd')]);
    case 'custom tools':
      return void expect(answer.calls).toEqual([expect.objectContaining({ name: 'apply_patch', kind: 'custom', input: PATCH })]);
    case 'namespace tools':
      return void expect(answer.calls).toEqual([expect.objectContaining({ name: 'spawn_agent', namespace: 'multi_agent_v1', input: JSON.stringify({ cmd: 'review' }) })]);
    case 'images':
      expect(wire).toContain(upstream === 'bedrock' ? '"bytes"' : 'iVBORw0KGgo');
      return void expect(answer.text).toBe('Hello from upstream');
    case 'json schema output':
      return void expect(answer.text).toBe('{"answer":"42"}');
    case 'usage with cache':
      // Anthropic clients see input without cache reads and writes; read back inclusive, every protocol agrees.
      return void expect(answer.usage).toEqual({ input: 1000, cached: 800, output: 50 });
    case 'errors':
      if (stream) expect(answer.error).toContain('went away');
      return;
  }
}

/** Warnings that concern the feature (a feature with none is `pass`). */
function featureWarnings(feature: Feature, outcome: ForwardOutcome): string[] {
  const relevant: Partial<Record<Feature, RegExp>> = {
    reasoning: /reasoning/,
    'custom tools': /tool:apply_patch/,
    'namespace tools': /namespace|multi_agent/,
    images: /image/,
    'json schema output': /response_format|text\.format|json/,
    'function tools': /tool|schema/,
    'parallel calls': /parallel/,
  };
  const pattern = relevant[feature];
  return pattern === undefined ? [] : outcome.warnings.filter((warning) => pattern.test(warning));
}

/** The upstream rejects the request: the client's error body is valid for its protocol and keeps the upstream's code. */
async function expectRejection(client: InboundProtocol, upstream: FakeProvider): Promise<string[]> {
  upstreams.get(upstream)!.push(UPSTREAM_REJECTION);
  const body = requestFor(client, 'text', true);
  let thrown: unknown;
  try {
    await forwardTranslated({ inbound: client, body, rawBody: Buffer.from(JSON.stringify(body)), forwardHeaders: {}, target: target(upstream), stream: true, sink: memorySink(), timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 10_000 }, sessionId: 's', requestId: `req_conf_${++requestCounter}` });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(GatewayError);
  const rendered = renderErrorBody(thrown as GatewayError, client, { requestId: 'req_err', policyVersion: 1 }) as Record<string, any>;
  expect(rendered['error'].message).toContain('prompt is too long');
  const verdict = client === 'anthropic-messages' ? checkAnthropic('event', rendered) : checkChatChunk(rendered);
  return verdict.errors;
}

for (const client of CLIENTS) {
  describe(`client protocol ${client}`, () => {
    for (const upstream of UPSTREAMS) {
      if (PASS_THROUGH[client] === upstream) continue;
      for (const feature of FEATURES) {
        const unsupported = UNSUPPORTED[client]?.[feature];
        const notCovered = NOT_COVERED[upstream]?.[feature];
        if (unsupported !== undefined || notCovered !== undefined) {
          cells.set(cellKey(client, upstream, feature), unsupported !== undefined ? { status: 'unsupported', note: unsupported } : { status: 'not covered', note: notCovered! });
          continue;
        }
        it(`${upstream}: ${feature} — every object valid for ${client}`, async () => {
          cells.set(cellKey(client, upstream, feature), { status: 'failing', note: 'the test failed' });
          const warnings = new Set<string>();
          const specs = new Set<string>();
          for (const stream of feature === 'streaming' ? [true] : [true, false]) {
            if (feature === 'errors' && !stream) continue;
            const { answer, outcome, wire } = await run(client, upstream, feature, stream);
            expect(answer.schemaErrors, `${stream ? 'stream' : 'body'} objects that break the ${client} schema`).toEqual([]);
            expect(answer.objects).toBeGreaterThan(0);
            expectFeature(client, upstream, feature, answer, wire, stream);
            // Never silent: the format reached the upstream, or the span says it did not.
            if (feature === 'json schema output') expect(wire.includes('"answer"') || featureWarnings(feature, outcome).length > 0).toBe(true);
            for (const warning of featureWarnings(feature, outcome)) warnings.add(warning.slice(0, warning.indexOf(': ')));
            for (const spec of answer.specs) specs.add(spec);
          }
          if (feature === 'errors') expect(await expectRejection(client, upstream)).toEqual([]);
          cells.set(cellKey(client, upstream, feature), warnings.size > 0 ? { status: 'warned', note: [...warnings].join(', '), specs: [...specs] } : { status: 'pass', specs: [...specs] });
        });
      }
    }
  });
}
