import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest, ScriptedTurn } from './scripted-turn.ts';

/** What a provider module renders for one turn. */
export interface TurnReply {
  status: number;
  headers: Record<string, string>;
  /** Frames written one by one (stream) or a single body. */
  frames: (string | Uint8Array)[];
}

export type RenderTurn = (turn: ScriptedTurn, request: RecordedRequest) => TurnReply;

export interface FakeServer {
  url: string;
  requests: RecordedRequest[];
  /** The exact body bytes written for each answered request, in order (what a recording would hold). */
  sent: Buffer[];
  /** Adds turns to the end of the script. */
  push(...turns: ScriptedTurn[]): void;
  /** Turns not yet consumed. */
  readonly remaining: number;
  close(): Promise<void>;
}

/** A loopback HTTP server that answers each request with the next scripted turn. */
export async function startFakeServer(render: RenderTurn, script: ScriptedTurn[]): Promise<FakeServer> {
  const queue = [...script];
  const requests: RecordedRequest[] = [];
  const sent: Buffer[] = [];
  const server = createServer((request, response) => void handle(request, response));
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const rawBody = Buffer.concat(parts).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(rawBody) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    const recorded: RecordedRequest = { method: request.method ?? 'GET', url: request.url ?? '/', headers, body, rawBody, remotePort: request.socket.remotePort };
    requests.push(recorded);
    const turn = queue.shift();
    if (turn === undefined) {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'fake upstream: script exhausted', type: 'fake_error' } }));
      return;
    }
    const reply = render(turn, recorded);
    response.writeHead(reply.status, reply.headers);
    response.flushHeaders();
    const written: Buffer[] = [];
    sent.push(Buffer.alloc(0));
    const slot = sent.length - 1;
    for (const frame of reply.frames) {
      if (turn.dropAfterFrames !== undefined && written.length >= turn.dropAfterFrames) {
        sent[slot] = Buffer.concat(written);
        response.socket?.destroy();
        return;
      }
      response.write(frame);
      written.push(Buffer.from(frame));
      if (turn.frameDelayMillis !== undefined && turn.frameDelayMillis > 0) await new Promise((resolve) => setTimeout(resolve, turn.frameDelayMillis));
      else await new Promise((resolve) => setImmediate(resolve));
    }
    sent[slot] = Buffer.concat(written);
    if (turn.dropAfterFrames !== undefined && written.length >= turn.dropAfterFrames) {
      response.socket?.destroy();
      return;
    }
    response.end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sent,
    push: (...turns) => void queue.push(...turns),
    get remaining() {
      return queue.length;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sse(event: string | undefined, data: unknown, lineEnd = '\n'): string {
  return `${event !== undefined ? `event: ${event}${lineEnd}` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}${lineEnd}${lineEnd}`;
}
