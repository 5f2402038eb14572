// Per-chunk CPU cost of each adapter's parseStream on a long stream (issue 20: wire events read
// with lenient zod schemas must not become a hot spot). Frames come from the fakes in the real
// framing, decoded once; only the adapter's parsing is timed.
//   node bench/stream-parse-bench.ts [chunks=2000] [rounds=30]
import type { WireEvent } from '../gateway/providers/provider-adapter.ts';
import type { ProviderId } from '../gateway/providers/provider-adapter.ts';
import { getProviderAdapter } from '../gateway/providers/registry.ts';
import { decodeAwsEventStream } from '../gateway/transport/decode-aws-event-stream.ts';
import { decodeSse } from '../gateway/transport/decode-sse.ts';
import type { ProviderConfig } from '../shared/config/config-schema.ts';
import { renderAnthropicTurn } from '../test/helpers/fake-upstreams/fake-anthropic.ts';
import { renderBedrockTurn } from '../test/helpers/fake-upstreams/fake-bedrock.ts';
import { renderGeminiTurn } from '../test/helpers/fake-upstreams/fake-gemini.ts';
import { renderOpenAIChatTurn } from '../test/helpers/fake-upstreams/fake-openai-chat.ts';
import { renderOpenAIResponsesTurn } from '../test/helpers/fake-upstreams/fake-openai-responses.ts';
import type { RenderTurn } from '../test/helpers/fake-upstreams/fake-server.ts';

const PROVIDERS: [ProviderId, RenderTurn, ProviderConfig, string][] = [
  ['openai', renderOpenAIResponsesTurn, { type: 'openai', api_key: 'sk_bench' }, '/v1/responses'],
  ['openai-chat', renderOpenAIChatTurn, { type: 'openai-chat', preset: 'vllm' }, '/v1/chat/completions'],
  ['anthropic', renderAnthropicTurn, { type: 'anthropic', api_key: 'sk_bench' }, '/v1/messages'],
  ['gemini', renderGeminiTurn, { type: 'gemini', api_key: 'sk_bench' }, '/v1beta/models/m:streamGenerateContent?alt=sse'],
  ['bedrock', renderBedrockTurn, { type: 'bedrock', region: 'us-east-1' }, '/model/m/converse-stream'],
];

const chunks = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 30);

async function decoded(id: ProviderId, render: RenderTurn, url: string): Promise<WireEvent[]> {
  const text = 'abcd'.repeat(chunks);
  const frames = render({ text, chunkSize: 4 }, { method: 'POST', url, headers: {}, body: { stream: true, model: 'm' }, rawBody: '', remotePort: undefined }).frames;
  async function* source(): AsyncIterable<Uint8Array> {
    for (const frame of frames) yield typeof frame === 'string' ? Buffer.from(frame) : frame;
  }
  const streamFormat = getProviderAdapter(id).capabilities.streamFormat;
  const events: WireEvent[] = [];
  for await (const event of streamFormat === 'aws-eventstream' ? decodeAwsEventStream(source()) : decodeSse(source())) events.push(event);
  return events;
}

for (const [id, render, provider, url] of PROVIDERS) {
  const adapter = getProviderAdapter(id);
  const events = await decoded(id, render, url);
  const context = { providerName: id, provider, requestId: 'req_bench' };
  const once = async () => {
    async function* wire(): AsyncIterable<WireEvent> {
      yield* events;
    }
    let count = 0;
    for await (const _event of adapter.parseStream(wire(), context)) count++;
    return count;
  };
  for (let warm = 0; warm < 5; warm++) await once();
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // CPU time, not wall time: the figure must hold on a machine shared with other work.
    const started = process.cpuUsage();
    await once();
    const used = process.cpuUsage(started);
    samples.push((used.user + used.system) / events.length);
  }
  samples.sort((a, b) => a - b);
  console.log(`${id.padEnd(12)} ${String(events.length).padStart(5)} events  median ${samples[Math.floor(samples.length / 2)]!.toFixed(2)} µs CPU/event  min ${samples[0]!.toFixed(2)}`);
}
