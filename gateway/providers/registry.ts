import { anthropicAdapter } from './anthropic/index.ts';
import { azureOpenAIAdapter } from './azure-openai/index.ts';
import { bedrockAdapter } from './bedrock/index.ts';
import { geminiAdapter } from './gemini/index.ts';
import { openaiChatAdapter } from './openai-chat/index.ts';
import { openaiAdapter } from './openai/index.ts';
import type { ProviderAdapter, ProviderId } from './provider-adapter.ts';

/** Provider config `type` → adapter. The only existing file a new provider edits. */
export const PROVIDER_ADAPTERS: Readonly<Record<ProviderId, ProviderAdapter>> = {
  openai: openaiAdapter,
  'openai-chat': openaiChatAdapter,
  'azure-openai': azureOpenAIAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  bedrock: bedrockAdapter,
};

export function getProviderAdapter(id: ProviderId): ProviderAdapter {
  return PROVIDER_ADAPTERS[id];
}
