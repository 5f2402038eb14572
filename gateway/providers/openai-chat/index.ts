import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { openaiChatAdapterParts } from './openai-chat-adapter.ts';

const TYPE = 'openai-chat';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const openaiChatProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'auth_style', 'preset', 'headers', 'max_concurrency'],
  adapter: openaiChatAdapterParts,
});

export const openaiChatAdapter = openaiChatProvider.adapter;
