import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { openaiAdapterParts } from './openai-adapter.ts';

const TYPE = 'openai';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const openaiProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'auth_style', 'headers', 'max_concurrency'],
  adapter: openaiAdapterParts,
});

export const openaiAdapter = openaiProvider.adapter;
