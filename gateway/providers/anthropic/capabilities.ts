import type { ProviderCapabilities } from '../provider-adapter.ts';

export const anthropicCapabilities: ProviderCapabilities = {
  family: 'anthropic',
  customTools: false,
  namespaceTools: false,
  hostedTools: [],
  toolCallIds: true,
  reasoning: true,
  images: true,
  streamFormat: 'sse',
};
