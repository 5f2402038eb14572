// EXPERIMENT: the bare proxy's work behind Fastify with the gateway's options, to measure Fastify's share.
import Fastify from 'fastify';
import { Agent, request } from 'undici';
const upstream = process.env.UPSTREAM_URL ?? '';
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
const app = Fastify({ logger: false, genReqId: () => `req_${crypto.randomUUID().replaceAll('-', '')}` });
app.removeContentTypeParser('application/json');
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, JSON.parse((body as Buffer).toString('utf8'))));
app.post('/v1/responses', async (req, reply) => {
  const response = await request(`${upstream}/responses`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk_bench' }, body: JSON.stringify(req.body), dispatcher: agent });
  reply.hijack();
  reply.raw.writeHead(response.statusCode, { 'content-type': String(response.headers['content-type'] ?? 'application/json') });
  const bytes = await response.body.bytes();
  reply.raw.end(bytes);
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ port: (app.server.address() as { port: number }).port });
process.on('message', (message) => { if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() }); });
