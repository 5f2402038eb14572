import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderErrorBody } from '../../gateway/errors/render-error.ts';
import { isGatewayError } from '../../gateway/errors/gateway-error.ts';
import { forwardTranslated } from '../../gateway/forward/forward-translated.ts';
import type { ClientSink, ForwardOutcome, InboundProtocol, ResolvedTarget } from '../../gateway/forward/forward-types.ts';

const ROUTES: Record<string, InboundProtocol> = { '/v1/responses': 'openai-responses', '/v1/chat/completions': 'openai-chat', '/v1/messages': 'anthropic-messages' };

/**
 * A bare HTTP server that sends every request through forwardTranslated to one target, so the
 * official SDKs can be pointed at the translation (the real routes add auth and policy on top).
 */
export async function startTranslatingServer(target: ResolvedTarget): Promise<{ url: string; outcomes: ForwardOutcome[]; close(): Promise<void> }> {
  const outcomes: ForwardOutcome[] = [];
  let counter = 0;
  const server = createServer((request, response) => void handle(request, response));
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const inbound = ROUTES[(request.url ?? '').split('?')[0] ?? ''];
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const rawBody = Buffer.concat(parts);
    if (inbound === undefined) {
      response.writeHead(404).end();
      return;
    }
    const controller = new AbortController();
    response.on('close', () => controller.abort());
    const sink: ClientSink & { started: boolean } = {
      started: false,
      signal: controller.signal,
      start(status, headers) {
        sink.started = true;
        response.writeHead(status, headers);
        response.flushHeaders();
      },
      write: (chunk) => void response.write(chunk),
      end: (chunk) => void (chunk === undefined ? response.end() : response.end(chunk)),
    };
    const body = JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>;
    const requestId = `req_test${++counter}`;
    try {
      outcomes.push(
        await forwardTranslated({
          inbound,
          body,
          rawBody,
          forwardHeaders: {},
          target,
          stream: body['stream'] === true,
          sink,
          timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 20_000 },
          sessionId: 'session-test',
          requestId,
        }),
      );
    } catch (error) {
      if (sink.started) throw error;
      const failure = isGatewayError(error) ? error : undefined;
      const status = failure?.status ?? 500;
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(failure !== undefined ? renderErrorBody(failure, inbound, { requestId, policyVersion: 1 }) : { error: { message: String(error) } }));
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, outcomes, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
