import type { ProviderCapabilities } from '../provider-adapter.ts';

/** Lowest common denominator of OpenAI-compatible servers. */
export const openaiChatCapabilities: ProviderCapabilities = {
  family: 'openai-chat',
  customTools: false,
  namespaceTools: false,
  hostedTools: [],
  toolCallIds: true,
  reasoning: false,
  images: true,
  streamFormat: 'sse',
};
