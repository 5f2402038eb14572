import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { TEST_KEY } from '../helpers/start-test-gatehouse.ts';

/** A loopback port nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A webhook receiver that keeps every JSON body it was posted. */
export async function startWebhookReceiver(): Promise<{ url: string; events: Record<string, unknown>[]; close(): Promise<void> }> {
  const events: Record<string, unknown>[] = [];
  const server = createHttpServer((incoming: IncomingMessage, response) => {
    const parts: Buffer[] = [];
    incoming.on('data', (part: Buffer) => parts.push(part));
    incoming.on('end', () => {
      try {
        events.push(JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>);
      } catch {
        events.push({ unparsable: true });
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    events,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TurnAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  millis: number;
}

/** POST /v1/responses as Codex would (streaming), in session `sessionId`; reads the whole answer. */
export async function postResponses(url: string, sessionId: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<TurnAnswer> {
  const started = performance.now();
  const response = await request(`${url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': sessionId, ...headers },
    body: JSON.stringify({ stream: true, input: 'hello', ...body }),
  });
  const text = await response.body.text();
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return { status: response.statusCode, headers: flat, text, millis: performance.now() - started };
}

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** Polls `check` until it returns true or `timeoutMillis` passes. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMillis = 10_000, stepMillis = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(stepMillis);
  }
  return check();
}
