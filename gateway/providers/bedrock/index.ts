import { defineProvider, type ProviderDefinition } from '../provider-definition.ts';
import { bedrockAdapterParts } from './bedrock-adapter.ts';

const TYPE = 'bedrock';

/** The one place that names this provider. @see ../README.md#adding-a-provider */
export const bedrockProvider: ProviderDefinition<typeof TYPE> = defineProvider({
  type: TYPE,
  configFields: ['base_url', 'api_key', 'region', 'access_key_id', 'secret_access_key', 'session_token', 'headers', 'max_concurrency'],
  adapter: bedrockAdapterParts,
});

export const bedrockAdapter = bedrockProvider.adapter;
