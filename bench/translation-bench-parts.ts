import type { CanonicalEvent } from '../gateway/canonical/event.ts';
import { prepareRequest } from '../gateway/forward/prepare-request.ts';
import { restoreToolIdentity } from '../gateway/forward/restore-tool-identity.ts';
import { responsesToCanonical } from '../gateway/inbound/openai-responses/to-canonical.ts';
import { createResponsesStreamRenderer } from '../gateway/inbound/openai-responses/render-stream.ts';
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

const RENDER: Record<ProviderId, RenderTurn> = {
  openai: renderOpenAIResponsesTurn,
  'azure-openai': renderOpenAIResponsesTurn,
  'openai-chat': renderOpenAIChatTurn,
  anthropic: renderAnthropicTurn,
  gemini: renderGeminiTurn,
  bedrock: renderBedrockTurn,
};

const CONFIG: Record<ProviderId, ProviderConfig> = {
  openai: { type: 'openai', api_key: 'sk_bench' },
  'azure-openai': { type: 'azure-openai', base_url: 'https://bench.openai.azure.com', api_key: 'sk_bench' },
  'openai-chat': { type: 'openai-chat', preset: 'vllm' },
  anthropic: { type: 'anthropic', api_key: 'sk_bench' },
  gemini: { type: 'gemini', api_key: 'sk_bench' },
  bedrock: { type: 'bedrock', region: 'us-east-1' },
};

/**
 * The two halves of forwardTranslated without the network: request conversion (Responses body →
 * canonical → prepared → wire body) and a recorded 20-delta upstream answer in the provider's
 * real framing (from the fakes) decoded, translated and rendered back as Responses SSE.
 */
export function forwardTranslatedParts(provider: string): { convertRequest(body: Record<string, unknown>): number; translateStream(): Promise<number> } {
  const id = provider as ProviderId;
  const adapter = getProviderAdapter(id);
  const context = { providerName: id, provider: CONFIG[id], requestId: 'req_bench' };
  const text = 'The quick brown fox jumps over the lazy dog while Gatehouse measures it. Done!!!!';
  const url = id === 'gemini' ? '/v1beta/models/m:streamGenerateContent?alt=sse' : id === 'bedrock' ? '/model/m/converse-stream' : '/v1/x';
  const frames = RENDER[id]({ text, chunkSize: 4 }, { method: 'POST', url, headers: {}, body: { stream: true, model: 'm' }, rawBody: '', remotePort: undefined }).frames;
  const bytes = frames.map((frame) => (typeof frame === 'string' ? Buffer.from(frame) : frame));
  let identities = new Map();
  return {
    convertRequest(body) {
      const prepared = prepareRequest(responsesToCanonical(body, 'upstream-model').request, adapter.capabilities);
      identities = prepared.identities;
      return adapter.buildRequest(prepared.request, context).body.length;
    },
    async translateStream() {
      async function* source(): AsyncIterable<Uint8Array> {
        yield* bytes;
      }
      const wire = adapter.capabilities.streamFormat === 'aws-eventstream' ? decodeAwsEventStream(source()) : decodeSse(source());
      const renderer = createResponsesStreamRenderer({ requestId: 'req_bench', model: 'gpt-5.5', createdAt: 0, body: {} });
      let written = 0;
      for await (const event of restoreToolIdentity(adapter.parseStream(wire, context), identities) as AsyncIterable<CanonicalEvent>) written += renderer.render(event).length;
      return written;
    },
  };
}
