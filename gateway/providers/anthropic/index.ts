import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { anthropicAdapterParts } from './anthropic-adapter.ts';

const TYPE = 'anthropic';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const anthropicProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'auth_style', 'headers', 'max_concurrency'],
  adapter: anthropicAdapterParts,
});

export const anthropicAdapter = anthropicProvider.adapter;
