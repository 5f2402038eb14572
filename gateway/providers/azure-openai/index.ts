import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { azureOpenAIAdapterParts } from './azure-openai-adapter.ts';

const TYPE = 'azure-openai';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const azureOpenAIProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'api_version', 'headers', 'max_concurrency'],
  baseUrlExample: 'https://<resource>.openai.azure.com',
  adapter: azureOpenAIAdapterParts,
});

export const azureOpenAIAdapter = azureOpenAIProvider.adapter;
