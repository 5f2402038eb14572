import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../../helpers/start-test-gatehouse.ts';

/**
 * The streamed pass-through hands the chunks of one upstream read to the client together (one write),
 * but never holds a chunk past its tick: a Codex user sees each delta as the model writes it. The
 * upstream here sends its first frames, then waits — a barrier, not a sleep — until the client has read
 * them through the gateway; a relay that held chunks until the stream ended would never release it.
 * Asked for an answer "all at once", it sends every frame and its end in one write instead: then the
 * gateway's last bytes and the end of its response must leave together, passed through or translated.
 */
const frame = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const response = { id: 'resp_1', object: 'response', model: 'gpt-5.5', status: 'completed', output: [], usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 } };

describe('streamed pass-through relay', () => {
  let upstream: Server;
  let gatehouse: TestGatehouse;
  /** The upstream's answer, held after its first frames until the client has read them. */
  let pending: ServerResponse | undefined;

  beforeAll(async () => {
    upstream = createServer((incoming, answer) => {
      let body = '';
      incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
      incoming.on('end', () => {
        answer.writeHead(200, { 'content-type': 'text/event-stream' });
        if (body.includes('all at once')) {
          // A fast upstream's whole answer: every frame and the end of the body in one write.
          answer.end(frame('response.created', { sequence_number: 0, response: { ...response, status: 'in_progress', usage: null } }) + frame('response.output_text.delta', { sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'whole' }) + frame('response.completed', { sequence_number: 2, response }));
          return;
        }
        // Several frames in one write, as a fast upstream sends them: they leave the gateway together.
        answer.write(frame('response.created', { sequence_number: 0, response: { ...response, status: 'in_progress', usage: null } }) + frame('response.output_text.delta', { sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'first ' }));
        pending = answer;
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, api_key: 'sk_test' } } });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('delivers the first deltas while the upstream still holds the rest, then the whole stream with its usage recorded', async () => {
    const answer = await request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
      body: JSON.stringify({ model: 'gpt-5.5', input: 'stream please', stream: true }),
    });
    expect(answer.statusCode).toBe(200);
    let received = '';
    for await (const chunk of answer.body) {
      received += chunk.toString();
      // The upstream sends the rest only once the first delta has come through the gateway.
      if (received.includes('"delta":"first "') && pending) {
        const held = pending;
        pending = undefined;
        held.write(frame('response.output_text.delta', { sequence_number: 2, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'second' }));
        held.end(frame('response.completed', { sequence_number: 3, response }));
      }
    }
    expect(received).toContain('"delta":"second"');
    expect(received.indexOf('"delta":"first "')).toBeLessThan(received.indexOf('"delta":"second"'));
    expect(received).toContain('event: response.completed');
    // The side reader saw every frame, joined or not: the usage of the final event is on the span.
    const requestId = String(answer.headers['x-gatehouse-request-id']);
    const [span] = await waitForRows<{ input_tokens: number; output_tokens: number }>(gatehouse, `SELECT input_tokens, output_tokens FROM gatehouse.spans WHERE request_id = '${requestId}'`, 1);
    expect(span).toEqual({ input_tokens: 12, output_tokens: 3 });
  });

  /** Every write the gateway's client-facing sockets hand to the kernel while `send` runs (Node's Writable calls one of these per flush). */
  async function countingWrites(send: () => Promise<string>): Promise<{ writes: string[]; received: string }> {
    const gatewayPort = Number(new URL(gatehouse.url).port);
    const writes: string[] = [];
    const prototype = Socket.prototype as unknown as Record<'_write' | '_writev', (this: Socket, ...rest: unknown[]) => unknown>;
    const original = { _write: prototype._write, _writev: prototype._writev };
    for (const name of ['_write', '_writev'] as const) {
      prototype[name] = function (this: Socket, ...rest: unknown[]) {
        if (this.localPort === gatewayPort) writes.push(name);
        return original[name].apply(this, rest);
      };
    }
    try {
      return { writes, received: await send() };
    } finally {
      Object.assign(prototype, original);
    }
  }

  async function readAll(path: string, body: Record<string, unknown>): Promise<string> {
    const answer = await request(`${gatehouse.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` }, body: JSON.stringify(body) });
    expect(answer.statusCode).toBe(200);
    let received = '';
    for await (const chunk of answer.body) received += chunk.toString();
    return received;
  }

  // The upstream's last read used to leave at once and the response's end on its own after the journal
  // write: two writes and two wake-ups of the client for one answer.
  it('sends the last read of a passed-through answer and the end of the response in one write', async () => {
    const { writes, received } = await countingWrites(() => readAll('/v1/responses', { model: 'gpt-5.5', input: 'all at once', stream: true }));
    expect(received).toContain('"delta":"whole"');
    expect(received).toContain('event: response.completed');
    expect(writes).toHaveLength(1);
  });

  it('sends the last events of a translated answer and the end of the response in one write', async () => {
    // Chat Completions from the client, Responses upstream: translated both ways.
    const { writes, received } = await countingWrites(() => readAll('/v1/chat/completions', { model: 'gpt-5.5', messages: [{ role: 'user', content: 'all at once' }], stream: true }));
    expect(received).toContain('"content":"whole"');
    expect(received).toContain('data: [DONE]');
    expect(writes).toHaveLength(1);
  });
});
