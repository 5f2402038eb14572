// The yardstick: a bare undici pass-through proxy with no auth, policy or accounting.
import { createServer } from 'node:http';
import { Agent, request } from 'undici';
import { profileOnMessage } from './profile-on-message.ts';

const upstream = process.env.UPSTREAM_URL ?? '';
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
const server = createServer((incoming, outgoing) => {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    void (async () => {
      try {
        const response = await request(`${upstream}${incoming.url?.replace(/^\/v1/, '') ?? ''}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk_bench' },
          body: Buffer.concat(chunks),
          dispatcher: agent,
        });
        outgoing.writeHead(response.statusCode, { 'content-type': String(response.headers['content-type'] ?? 'application/json') });
        for await (const chunk of response.body) outgoing.write(chunk);
        outgoing.end();
      } catch {
        outgoing.writeHead(502);
        outgoing.end();
      }
    })();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
profileOnMessage();
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage(), thread: process.threadCpuUsage() });
  if (message === 'stop') process.exit(0);
});
