// A minimal, fast OpenAI Responses upstream for benchmarks, run in its own process.
import { createServer } from 'node:http';

const STREAM_CHUNKS = 20;
const completed = {
  id: 'resp_bench',
  object: 'response',
  status: 'completed',
  model: 'gpt-5.5',
  output: [{ id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'hello '.repeat(STREAM_CHUNKS), annotations: [] }] }],
  usage: { input_tokens: 1200, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 1220 },
};
const jsonBody = Buffer.from(JSON.stringify(completed));
const frames: Buffer[] = [];
frames.push(Buffer.from(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: { ...completed, status: 'in_progress', output: [], usage: null } })}\n\n`));
for (let index = 0; index < STREAM_CHUNKS; index += 1) {
  frames.push(Buffer.from(`event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', sequence_number: index + 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'hello ' })}\n\n`));
}
frames.push(Buffer.from(`event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', sequence_number: STREAM_CHUNKS + 1, response: completed })}\n\n`));

// The same answer in Chat Completions form, for the translated target (Responses in, Chat upstream).
const chatCompletion = Buffer.from(
  JSON.stringify({ id: 'chatcmpl_bench', object: 'chat.completion', created: 0, model: 'gpt-5.5', choices: [{ index: 0, message: { role: 'assistant', content: 'hello '.repeat(STREAM_CHUNKS) }, finish_reason: 'stop' }], usage: { prompt_tokens: 1200, completion_tokens: 20, total_tokens: 1220, prompt_tokens_details: { cached_tokens: 1024 } } }),
);
const chatFrames: Buffer[] = [];
for (let index = 0; index < STREAM_CHUNKS; index += 1) {
  chatFrames.push(Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl_bench', object: 'chat.completion.chunk', created: 0, model: 'gpt-5.5', choices: [{ index: 0, delta: index === 0 ? { role: 'assistant', content: 'hello ' } : { content: 'hello ' }, finish_reason: null }] })}\n\n`));
}
chatFrames.push(Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl_bench', object: 'chat.completion.chunk', created: 0, model: 'gpt-5.5', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`));
chatFrames.push(Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl_bench', object: 'chat.completion.chunk', created: 0, model: 'gpt-5.5', choices: [], usage: { prompt_tokens: 1200, completion_tokens: 20, total_tokens: 1220, prompt_tokens_details: { cached_tokens: 1024 } } })}\n\ndata: [DONE]\n\n`));

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const stream = Buffer.concat(chunks).includes('"stream":true');
    if (request.url?.endsWith('/chat/completions')) {
      if (!stream) {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': chatCompletion.length });
        response.end(chatCompletion);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const frame of chatFrames) response.write(frame);
      response.end();
      return;
    }
    if (!stream) {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': jsonBody.length });
      response.end(jsonBody);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const frame of frames) response.write(frame);
    response.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.send?.({ port: address.port });
});
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage(), thread: process.threadCpuUsage() });
});
