import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { geminiAdapterParts } from './gemini-adapter.ts';

const TYPE = 'gemini';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const geminiProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'headers', 'max_concurrency'],
  adapter: geminiAdapterParts,
});

export const geminiAdapter = geminiProvider.adapter;
