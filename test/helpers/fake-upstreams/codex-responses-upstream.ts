import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** One scripted model answer in the OpenAI Responses wire format. */
export interface ScriptedTurn {
  /** Output items in order. */
  output: (
    | { type: 'message'; text: string }
    | { type: 'function_call'; name: string; arguments: string; callId?: string }
    | { type: 'custom_tool_call'; name: string; input: string; callId?: string }
    | { type: 'reasoning'; summary: string; encryptedContent?: string }
  )[];
  usage?: { input_tokens: number; cached_tokens?: number; output_tokens: number; reasoning_tokens?: number };
  /** Fail instead of answering: HTTP status with an OpenAI error body. */
  fail?: { status: number; code?: string; message?: string; retryAfter?: string };
  /** Stop the stream after this many SSE events (truncation) without response.completed. */
  truncateAfterEvents?: number;
  /** Delay before headers, ms. */
  delayMillis?: number;
  /** Delay between events, ms. */
  eventDelayMillis?: number;
  /** Sends headers and the first event, then waits for this before the rest (a barrier, e.g. until every stream is open). */
  holdAfterFirstEvent?: Promise<void>;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  rawBody: Buffer;
}

export interface FakeResponsesUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Raw SSE bytes sent for each streaming answer, in order. */
  sentStreams: Buffer[];
  close(): Promise<void>;
}

const wait = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** Builds the exact event sequence the OpenAI Responses API streams for a scripted turn. */
export function responsesEvents(turn: ScriptedTurn, model: string): { type: string; [key: string]: unknown }[] {
  const responseId = `resp_${randomUUID().replaceAll('-', '')}`;
  const createdAt = Math.floor(Date.now() / 1000);
  const base = { id: responseId, object: 'response', created_at: createdAt, model, parallel_tool_calls: true, tool_choice: 'auto', tools: [], store: false };
  const events: { type: string; [key: string]: unknown }[] = [];
  events.push({ type: 'response.created', response: { ...base, status: 'in_progress', output: [], usage: null } });
  events.push({ type: 'response.in_progress', response: { ...base, status: 'in_progress', output: [], usage: null } });
  const output: Record<string, unknown>[] = [];
  turn.output.forEach((item, outputIndex) => {
    if (item.type === 'message') {
      const id = `msg_${randomUUID().replaceAll('-', '')}`;
      events.push({ type: 'response.output_item.added', output_index: outputIndex, item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
      events.push({ type: 'response.content_part.added', item_id: id, output_index: outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      const words = item.text.match(/\S+\s*/g) ?? [item.text];
      for (const word of words) events.push({ type: 'response.output_text.delta', item_id: id, output_index: outputIndex, content_index: 0, delta: word, logprobs: [] });
      events.push({ type: 'response.output_text.done', item_id: id, output_index: outputIndex, content_index: 0, text: item.text, logprobs: [] });
      const part = { type: 'output_text', text: item.text, annotations: [], logprobs: [] };
      events.push({ type: 'response.content_part.done', item_id: id, output_index: outputIndex, content_index: 0, part });
      const done = { id, type: 'message', status: 'completed', role: 'assistant', content: [part] };
      events.push({ type: 'response.output_item.done', output_index: outputIndex, item: done });
      output.push(done);
    } else if (item.type === 'function_call') {
      const id = `fc_${randomUUID().replaceAll('-', '')}`;
      const callId = item.callId ?? `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
      events.push({ type: 'response.output_item.added', output_index: outputIndex, item: { id, type: 'function_call', status: 'in_progress', arguments: '', call_id: callId, name: item.name } });
      const half = Math.ceil(item.arguments.length / 2);
      for (const delta of [item.arguments.slice(0, half), item.arguments.slice(half)]) {
        if (delta) events.push({ type: 'response.function_call_arguments.delta', item_id: id, output_index: outputIndex, delta });
      }
      events.push({ type: 'response.function_call_arguments.done', item_id: id, output_index: outputIndex, name: item.name, arguments: item.arguments });
      const done = { id, type: 'function_call', status: 'completed', arguments: item.arguments, call_id: callId, name: item.name };
      events.push({ type: 'response.output_item.done', output_index: outputIndex, item: done });
      output.push(done);
    } else if (item.type === 'custom_tool_call') {
      const id = `ctc_${randomUUID().replaceAll('-', '')}`;
      const callId = item.callId ?? `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
      events.push({ type: 'response.output_item.added', output_index: outputIndex, item: { id, type: 'custom_tool_call', status: 'in_progress', call_id: callId, name: item.name, input: '' } });
      events.push({ type: 'response.custom_tool_call_input.delta', item_id: id, output_index: outputIndex, delta: item.input });
      events.push({ type: 'response.custom_tool_call_input.done', item_id: id, output_index: outputIndex, input: item.input });
      const done = { id, type: 'custom_tool_call', status: 'completed', call_id: callId, name: item.name, input: item.input };
      events.push({ type: 'response.output_item.done', output_index: outputIndex, item: done });
      output.push(done);
    } else {
      const id = `rs_${randomUUID().replaceAll('-', '')}`;
      const done = { id, type: 'reasoning', summary: [{ type: 'summary_text', text: item.summary }], ...(item.encryptedContent ? { encrypted_content: item.encryptedContent } : {}) };
      events.push({ type: 'response.output_item.added', output_index: outputIndex, item: { id, type: 'reasoning', summary: [] } });
      events.push({ type: 'response.output_item.done', output_index: outputIndex, item: done });
      output.push(done);
    }
  });
  const usage = turn.usage ?? { input_tokens: 100, output_tokens: 20 };
  events.push({
    type: 'response.completed',
    response: {
      ...base,
      status: 'completed',
      output,
      usage: {
        input_tokens: usage.input_tokens,
        input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
        output_tokens: usage.output_tokens,
        output_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
        total_tokens: usage.input_tokens + usage.output_tokens,
      },
    },
  });
  return events.map((event, index) => ({ ...event, sequence_number: index }));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A fake OpenAI Responses API on loopback. `respond` picks the scripted turn for each request
 * (given the parsed body and the request's index), so a script can follow the conversation.
 */
export async function startFakeResponsesUpstream(respond: (body: Record<string, unknown>, index: number) => ScriptedTurn): Promise<FakeResponsesUpstream> {
  const requests: RecordedRequest[] = [];
  const sentStreams: Buffer[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const rawBody = await readBody(request);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>;
      } catch {
        /* recorded as empty */
      }
      requests.push({ path: request.url ?? '', headers: request.headers, body, rawBody });
      const turn = respond(body, requests.length - 1);
      if (turn.delayMillis) await wait(turn.delayMillis);
      if (turn.fail) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (turn.fail.retryAfter) headers['retry-after'] = turn.fail.retryAfter;
        response.writeHead(turn.fail.status, headers);
        response.end(JSON.stringify({ error: { message: turn.fail.message ?? 'scripted failure', type: turn.fail.status === 429 ? 'rate_limit_error' : 'server_error', param: null, code: turn.fail.code ?? null } }));
        return;
      }
      const model = typeof body.model === 'string' ? body.model : 'unknown';
      const events = responsesEvents(turn, model);
      if (body.stream !== true) {
        const completed = events[events.length - 1]?.response;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(completed));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const sent: Buffer[] = [];
      const limit = turn.truncateAfterEvents ?? events.length;
      for (const event of events.slice(0, limit)) {
        const frame = Buffer.from(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        sent.push(frame);
        await new Promise((resolve) => response.write(frame, resolve));
        if (turn.holdAfterFirstEvent && sent.length === 1) await turn.holdAfterFirstEvent;
        if (turn.eventDelayMillis) await wait(turn.eventDelayMillis);
      }
      sentStreams.push(Buffer.concat(sent));
      if (turn.truncateAfterEvents !== undefined) response.destroy();
      else response.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    sentStreams,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
