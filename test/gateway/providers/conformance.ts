import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../gateway/canonical/event.ts';
import type { CanonicalRequest } from '../../../gateway/canonical/request.ts';
import { collectResponse } from '../../../gateway/canonical/response.ts';
import { isGatewayError, type GatewayError } from '../../../gateway/errors/gateway-error.ts';
import { prepareRequest } from '../../../gateway/forward/prepare-request.ts';
import { restoreToolIdentity } from '../../../gateway/forward/restore-tool-identity.ts';
import type { AdapterContext, ProviderId } from '../../../gateway/providers/provider-adapter.ts';
import { getProviderAdapter } from '../../../gateway/providers/registry.ts';
import { sendUpstream, UpstreamFailureError } from '../../../gateway/transport/send-upstream.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { startFakeUpstream, type FakeUpstream, type ScriptedTurn } from '../../helpers/fake-upstreams/index.ts';
import { INBOUND_PROTOCOLS } from '../../../gateway/forward/inbound-protocols.ts';
import type { InboundProtocol } from '../../../gateway/forward/forward-types.ts';
import { readAnswer } from '../forward/client-answer.ts';

export const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello "world" \\o/\n*** End Patch\n';

/** What an adapter declares about itself for the battery (a skipped case needs a reason). */
export interface ConformanceOptions {
  id: ProviderId;
  config(url: string): ProviderConfig;
  /** Upstream returns opaque reasoning (signature / encrypted content) on a text answer. */
  reasoningOpaque: boolean;
  reportsCacheWrite: boolean;
  reportsReasoningTokens: boolean;
  /** Upstream streams tool arguments in pieces (Gemini sends each call whole). */
  streamsToolArguments: boolean;
  /** Upstream sends Retry-After on 429 in the fake. */
  retryAfterHeader: boolean;
  skip?: Partial<Record<ConformanceCase, string>>;
}

export type ConformanceCase = 'text' | 'tool call' | 'parallel tool calls' | 'custom tool' | 'reasoning' | 'usage with cache' | 'upstream 429' | 'upstream 5xx' | 'mid-stream error' | 'truncated stream' | 'connection dies mid-stream';

/** The canonical request every adapter is run with: Codex-like tools (function + custom + hosted). */
export function conformanceRequest(overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model: 'model-under-test',
    messages: [
      { role: 'system', parts: [{ type: 'text', text: 'You are a coding agent.' }] },
      { role: 'user', parts: [{ type: 'text', text: 'create hello.txt' }] },
    ],
    tools: [
      { kind: 'function', name: 'exec_command', description: 'Runs a command.', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false }, strict: false },
      { kind: 'custom', name: 'apply_patch', description: 'Edit files.', format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch"' } },
      { kind: 'hosted', type: 'web_search', raw: { type: 'web_search' } },
    ],
    toolChoice: 'auto',
    parallelToolCalls: true,
    maxOutputTokens: undefined,
    temperature: undefined,
    topP: undefined,
    topK: undefined,
    stopSequences: undefined,
    reasoningEffort: undefined,
    reasoningSummary: undefined,
    responseFormat: undefined,
    promptCacheKey: 'session-1',
    providerOptions: {},
    stream: true,
    ...overrides,
  };
}

export interface RunResult {
  events: CanonicalEvent[];
  wireBody: Record<string, unknown> | undefined;
  warnings: string[];
}

/** Runs one canonical request through adapter + real transport against a fake upstream. */
export async function runThroughAdapter(id: ProviderId, config: ProviderConfig, request: CanonicalRequest, upstream: FakeUpstream): Promise<RunResult> {
  const adapter = getProviderAdapter(id);
  const prepared = prepareRequest(request, adapter.capabilities);
  const context: AdapterContext = { providerName: id, provider: config, requestId: 'req_conformance' };
  const outbound = adapter.buildRequest(prepared.request, context);
  const before = upstream.requests.length;
  const response = await sendUpstream(outbound, { timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 10_000 } });
  const events: CanonicalEvent[] = [];
  for await (const event of restoreToolIdentity(adapter.parseStream(response.events(), context), prepared.identities)) events.push(event);
  return { events, wireBody: upstream.requests[before]?.body, warnings: [...prepared.warnings, ...outbound.warnings].map((item) => `${item.type}:${item.feature}`) };
}

export async function expectGatewayError(id: ProviderId, config: ProviderConfig, upstream: FakeUpstream): Promise<GatewayError> {
  const adapter = getProviderAdapter(id);
  const outbound = adapter.buildRequest(prepareRequest(conformanceRequest(), adapter.capabilities).request, { providerName: id, provider: config, requestId: 'req' });
  try {
    await sendUpstream(outbound, { timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 10_000 } });
  } catch (error) {
    if (error instanceof UpstreamFailureError) {
      const classified = adapter.classifyError(error.failure);
      expect(isGatewayError(classified)).toBe(true);
      return classified;
    }
    throw error;
  }
  throw new Error('expected the upstream call to fail');
}

const FUNCTION_TOOL = { type: 'function', name: 'exec_command', description: 'Runs a command.', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] }, strict: false };
const CLIENT_BODIES: Record<InboundProtocol, (custom: boolean) => Record<string, unknown>> = {
  'openai-responses': (custom) => ({ model: 'gpt-5.5', input: 'create hello.txt', tools: custom ? [FUNCTION_TOOL, { type: 'custom', name: 'apply_patch' }] : [FUNCTION_TOOL], stream: true }),
  'openai-chat': () => ({ model: 'gpt-5.5', messages: [{ role: 'user', content: 'create hello.txt' }], stream: true, stream_options: { include_usage: true } }),
  'anthropic-messages': () => ({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'create hello.txt' }], stream: true }),
};

/**
 * The adapter's events rendered for every client protocol, streamed and (when the answer did not
 * fail) as one body: each object and event must be valid for that protocol's published schema.
 */
export async function expectValidForEveryClient(events: CanonicalEvent[], options: { custom?: boolean } = {}): Promise<void> {
  for (const client of Object.keys(CLIENT_BODIES) as InboundProtocol[]) {
    const context = { requestId: 'req_conformance', model: 'served-model', createdAt: 1_760_000_000, body: CLIENT_BODIES[client](options.custom === true) };
    const renderer = INBOUND_PROTOCOLS[client].createStreamRenderer(context);
    const streamed = await readAnswer(client, true, events.map((event) => renderer.render(event)).join(''));
    expect(streamed.schemaErrors, `${client} stream events`).toEqual([]);
    expect(streamed.objects).toBeGreaterThan(0);
    if (events.at(-1)?.type === 'error') continue;
    const body = await readAnswer(client, false, JSON.stringify(INBOUND_PROTOCOLS[client].renderBody(collectResponse(events), context)));
    expect(body.schemaErrors, `${client} body`).toEqual([]);
  }
}

const text = (events: CanonicalEvent[], type: 'text-delta' | 'reasoning-delta'): string => events.flatMap((event) => (event.type === type ? [event.delta] : [])).join('');
const terminal = (events: CanonicalEvent[]): CanonicalEvent | undefined => events.at(-1);

/** The shared battery. Asserts the outgoing wire body (snapshot) and the canonical events. */
export function describeConformance(options: ConformanceOptions): void {
  describe(`conformance: ${options.id}`, () => {
    let upstream: FakeUpstream;
    beforeAll(async () => {
      upstream = await startFakeUpstream(options.id, {});
    });
    afterAll(async () => upstream.close());
    const config = (): ProviderConfig => options.config(upstream.url);
    const run = async (turn: ScriptedTurn, request = conformanceRequest()): Promise<RunResult> => {
      upstream.push(turn);
      return runThroughAdapter(options.id, config(), request, upstream);
    };
    const test = (name: ConformanceCase, body: () => Promise<void>): void => {
      const reason = options.skip?.[name];
      if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, body);
      else it(name, body);
    };

    test('text', async () => {
      const result = await run({ text: 'Hello from upstream', usage: { input: 50, output: 5 } });
      expect(text(result.events, 'text-delta')).toBe('Hello from upstream');
      expect(result.events.filter((event) => event.type === 'text-delta').length).toBeGreaterThan(1);
      expect(result.events[0]?.type).toBe('response-metadata');
      expect(terminal(result.events)).toMatchObject({ type: 'finish', reason: { unified: 'stop' } });
      expect(result.wireBody).toMatchSnapshot();
      await expectValidForEveryClient(result.events);
    });

    test('tool call', async () => {
      const result = await run({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls -la' }, id: 'call_A1' }] });
      const response = collectResponse(result.events);
      expect(response.output).toMatchObject([{ type: 'tool-call', name: 'exec_command', kind: 'function' }]);
      const call = response.output[0];
      expect(call?.type === 'tool-call' ? JSON.parse(call.input) : undefined).toEqual({ cmd: 'ls -la' });
      expect(response.finish?.unified).toBe('tool-calls');
      await expectValidForEveryClient(result.events);
    });

    test('parallel tool calls', async () => {
      const result = await run({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls' } }, { name: 'exec_command', arguments: { cmd: 'pwd' } }] });
      const calls = collectResponse(result.events).output.flatMap((item) => (item.type === 'tool-call' ? [item] : []));
      expect(calls.map((call) => JSON.parse(call.input))).toEqual([{ cmd: 'ls' }, { cmd: 'pwd' }]);
      expect(new Set(calls.map((call) => call.callId)).size).toBe(2);
      await expectValidForEveryClient(result.events);
    });

    test('custom tool', async () => {
      const result = await run({ customToolCalls: [{ name: 'apply_patch', input: PATCH }], chunkSize: 7 });
      const starts = result.events.filter((event) => event.type === 'tool-call-start');
      expect(starts).toMatchObject([{ name: 'apply_patch', kind: 'custom' }]);
      const deltas = result.events.flatMap((event) => (event.type === 'tool-call-delta' ? [event.delta] : []));
      expect(deltas.join('')).toBe(PATCH);
      expect(result.events.find((event) => event.type === 'tool-call-end')).toMatchObject({ input: PATCH });
      if (!getProviderAdapter(options.id).capabilities.customTools) {
        // Streamed as it arrives: decoded raw input in several deltas, not one blob at the end.
        if (options.streamsToolArguments) expect(deltas.length).toBeGreaterThan(2);
        expect(result.warnings).toContain('compatibility:tool:apply_patch');
      }
      await expectValidForEveryClient(result.events, { custom: true });
    });

    test('reasoning', async () => {
      const result = await run({ reasoning: { text: 'Thinking about files.', signature: 'sig_conformance' }, text: 'Done.' }, conformanceRequest({ reasoningEffort: 'medium' }));
      expect(text(result.events, 'reasoning-delta')).toBe('Thinking about files.');
      expect(text(result.events, 'text-delta')).toBe('Done.');
      const end = result.events.find((event) => event.type === 'reasoning-end');
      if (options.reasoningOpaque) expect(end).toMatchObject({ opaque: { family: getProviderAdapter(options.id).capabilities.family, value: 'sig_conformance' } });
      else expect(end?.type === 'reasoning-end' ? end.opaque : undefined).toBeUndefined();
      await expectValidForEveryClient(result.events);
    });

    test('usage with cache', async () => {
      const result = await run({ text: 'ok', usage: { input: 1000, cached: 800, cacheWrite: options.reportsCacheWrite ? 100 : 0, output: 50, reasoning: 10 } });
      const usage = result.events.find((event) => event.type === 'usage');
      expect(usage).toEqual({
        type: 'usage',
        usage: { inputTokens: 1000, cachedInputTokens: 800, cacheWriteTokens: options.reportsCacheWrite ? 100 : 0, outputTokens: 50, reasoningTokens: options.reportsReasoningTokens ? 10 : 0 },
      });
      await expectValidForEveryClient(result.events);
    });

    test('upstream 429', async () => {
      upstream.push({ error: { status: 429, message: 'slow down', retryAfter: '2' } });
      const error = await expectGatewayError(options.id, config(), upstream);
      expect(error).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryable: true, provider: options.id });
      if (options.retryAfterHeader) expect(error.retryAfterMillis).toBe(2000);
    });

    test('upstream 5xx', async () => {
      upstream.push({ error: { status: 500, message: 'boom' } });
      const error = await expectGatewayError(options.id, config(), upstream);
      expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, upstream: { status: 500 } });
    });

    test('mid-stream error', async () => {
      const result = await run({ text: 'partial answer that will not finish', midStreamError: { message: 'went away' } });
      expect(result.events.some((event) => event.type === 'finish')).toBe(false);
      expect(terminal(result.events)).toMatchObject({ type: 'error' });
      expect((terminal(result.events) as { message?: string }).message).toContain(`upstream ${options.id} failed mid-stream`);
      await expectValidForEveryClient(result.events);
    });

    test('truncated stream', async () => {
      const result = await run({ text: 'cut short', truncate: true });
      expect(result.events.some((event) => event.type === 'finish')).toBe(false);
      expect(terminal(result.events)).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });
      await expectValidForEveryClient(result.events);
    });

    test('connection dies mid-stream', async () => {
      const result = await run({ text: 'a long answer that dies on the wire', dropAfterFrames: 3 });
      expect(result.events.some((event) => event.type === 'finish')).toBe(false);
      expect(terminal(result.events)).toMatchObject({ type: 'error', retryable: true });
      await expectValidForEveryClient(result.events);
    });
  });
}
