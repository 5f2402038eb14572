import { anthropicProvider } from './anthropic/index.ts';
import { azureOpenAIProvider } from './azure-openai/index.ts';
import { bedrockProvider } from './bedrock/index.ts';
import { geminiProvider } from './gemini/index.ts';
import { openaiChatProvider } from './openai-chat/index.ts';
import { openaiProvider } from './openai/index.ts';
import type { ProviderAdapter } from './provider-adapter.ts';

/**
 * Every provider Gatehouse speaks to: the one line a new provider adds outside its own folder.
 * The config `type` enum, `ProviderId` and the conformance battery's list are read from here.
 */
export const PROVIDER_DEFINITIONS = [openaiProvider, openaiChatProvider, azureOpenAIProvider, anthropicProvider, geminiProvider, bedrockProvider] as const;

/** Outbound adapter ids (the config `type` of a provider). */
export type ProviderId = (typeof PROVIDER_DEFINITIONS)[number]['type'];

export const PROVIDER_TYPES: readonly [ProviderId, ...ProviderId[]] = PROVIDER_DEFINITIONS.map((definition) => definition.type) as [ProviderId, ...ProviderId[]];

/** Provider config `type` → adapter. */
export const PROVIDER_ADAPTERS: Readonly<Record<ProviderId, ProviderAdapter>> = Object.fromEntries(PROVIDER_DEFINITIONS.map((definition) => [definition.type, definition.adapter])) as Record<ProviderId, ProviderAdapter>;

export function getProviderAdapter(id: ProviderId): ProviderAdapter {
  return PROVIDER_ADAPTERS[id];
}
