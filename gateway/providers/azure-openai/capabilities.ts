import type { ProviderCapabilities } from '../provider-adapter.ts';
import { openaiCapabilities } from '../openai/capabilities.ts';

/** Azure serves OpenAI models: same family (encrypted reasoning stays valid), fewer hosted tools. */
export const azureOpenAICapabilities: ProviderCapabilities = { ...openaiCapabilities, hostedTools: ['web_search_preview', 'file_search', 'code_interpreter', 'image_generation', 'mcp'] };
