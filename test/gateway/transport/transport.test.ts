import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fromAnthropicStream } from '../../../gateway/providers/anthropic/from-wire-stream.ts';
import type { OutboundRequest } from '../../../gateway/providers/provider-adapter.ts';
import { decodeAwsEventStream } from '../../../gateway/transport/decode-aws-event-stream.ts';
import { decodeSse } from '../../../gateway/transport/decode-sse.ts';
import { sendUpstream, UpstreamFailureError } from '../../../gateway/transport/send-upstream.ts';
import { signAwsRequest } from '../../../gateway/transport/sign-aws-request.ts';
import { startFakeUpstream, type FakeUpstream } from '../../helpers/fake-upstreams/index.ts';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function* bytes(...parts: (string | Uint8Array)[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? new TextEncoder().encode(part) : part;
}

describe('decodeSse', () => {
  it('handles \\r\\n\\r\\n frames (Gemini), split anywhere, including between \\r and \\n', async () => {
    const text = 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const events = await collect(decodeSse(bytes(text.slice(0, cut), text.slice(cut))));
      expect(events, `cut at ${cut}`).toEqual([{ type: undefined, data: '{"a":1}' }, { type: undefined, data: '{"b":2}' }]);
    }
  });

  it('reads event names, multi-line data, comments, a final frame without a blank line, and multi-byte characters split across chunks', async () => {
    const euro = new TextEncoder().encode('data: €\n\n');
    const events = await collect(decodeSse(bytes(': keep-alive\n', 'event: message_start\ndata: {"x":\ndata: 1}\n\n', euro.slice(0, 7), euro.slice(7), 'event: done\ndata: [DONE]')));
    expect(events).toEqual([
      { type: 'message_start', data: '{"x":\n1}' },
      { type: undefined, data: '€' },
      { type: 'done', data: '[DONE]' },
    ]);
  });
});

describe('decodeAwsEventStream', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frame = (type: string, body: unknown, messageType = 'event'): Uint8Array =>
    codec.encode({ headers: { [messageType === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type }, ':message-type': { type: 'string', value: messageType } }, body: fromUtf8(JSON.stringify(body)) });

  it('reassembles frames split across chunks and flags exceptions', async () => {
    const joined = new Uint8Array([...frame('messageStart', { role: 'assistant' }), ...frame('throttlingException', { message: 'slow' }, 'exception')]);
    const events = await collect(decodeAwsEventStream(bytes(joined.slice(0, 5), joined.slice(5, 40), joined.slice(40))));
    expect(events).toEqual([
      { type: 'messageStart', data: '{"role":"assistant"}', exception: false },
      { type: 'throttlingException', data: '{"message":"slow"}', exception: true },
    ]);
  });

  it('rejects a frame whose CRC does not match', async () => {
    const bad = frame('messageStart', { role: 'assistant' });
    bad[bad.length - 6] = (bad[bad.length - 6]! + 1) % 256;
    await expect(collect(decodeAwsEventStream(bytes(bad)))).rejects.toThrow();
  });
});

describe('signAwsRequest', () => {
  it('adds a SigV4 authorization for the region and the bedrock service', async () => {
    const request: OutboundRequest = {
      url: 'https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse-stream',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      streamFormat: 'aws-eventstream',
      aws: { region: 'eu-west-1', service: 'bedrock', accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', sessionToken: 'token' },
      warnings: [],
    };
    const headers = await signAwsRequest(request);
    expect(headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/);
    expect(headers['x-amz-security-token']).toBe('token');
    expect(headers['x-amz-content-sha256'] ?? headers['x-amz-date']).toBeDefined();
  });
});

describe('sendUpstream timeouts', () => {
  let upstream: FakeUpstream | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await upstream?.close();
    await close?.();
    upstream = undefined;
    close = undefined;
  });

  it('reports a silent upstream after the first byte as an idle-timeout error event', async () => {
    upstream = await startFakeUpstream('anthropic', { script: [{ text: 'slow', frameDelayMillis: 1500 }] });
    const response = await sendUpstream(
      { url: `${upstream.url}/v1/messages`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}', streamFormat: 'sse', warnings: [] },
      { timeouts: { connectMillis: 1000, firstByteMillis: 1000, idleMillis: 300, totalMillis: 10_000 } },
    );
    const events = await collect(fromAnthropicStream(response.events()));
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'upstream_timeout', retryable: true });
  });

  it('reports the whole-request deadline passing mid-stream as a timeout error event', async () => {
    upstream = await startFakeUpstream('openai-chat', { script: [{ text: 'a slow and long answer', frameDelayMillis: 200 }] });
    const response = await sendUpstream(
      { url: `${upstream.url}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}', streamFormat: 'sse', warnings: [] },
      { timeouts: { connectMillis: 1000, firstByteMillis: 1000, idleMillis: 5000, totalMillis: 500 } },
    );
    const { fromChatStream } = await import('../../../gateway/providers/openai-chat/from-wire-stream.ts');
    const events = await collect(fromChatStream(response.events()));
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'upstream_timeout', retryable: true });
  });

  it('fails with a first-byte timeout when headers never come', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    server.on('connection', (socket) => setTimeout(() => socket.destroy(), 2000).unref());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const failure = await sendUpstream(
      { url: `${url}/v1/messages`, method: 'POST', headers: {}, body: '{}', streamFormat: 'sse', warnings: [] },
      { timeouts: { connectMillis: 1000, firstByteMillis: 150, idleMillis: 1000, totalMillis: 5000 } },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UpstreamFailureError);
    expect((failure as UpstreamFailureError).failure).toMatchObject({ kind: 'timeout', timeoutPhase: 'first-byte' });
  });

  it('reuses kept-alive connections to the same upstream', async () => {
    upstream = await startFakeUpstream('openai-chat', { script: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] });
    for (let index = 0; index < 3; index++) {
      const response = await sendUpstream(
        { url: `${upstream.url}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}', streamFormat: 'sse', warnings: [] },
        { timeouts: { connectMillis: 1000, firstByteMillis: 1000, idleMillis: 1000, totalMillis: 5000 } },
      );
      await collect(response.events());
    }
    expect(upstream.requests).toHaveLength(3);
    // At least one request rode an already-open connection (a pool may open a second one while the first is released).
    expect(new Set(upstream.requests.map((request) => request.remotePort)).size).toBeLessThan(3);
  });
});
