import type { ProviderCapabilities } from '../provider-adapter.ts';

export const bedrockCapabilities: ProviderCapabilities = {
  family: 'bedrock',
  customTools: false,
  namespaceTools: false,
  hostedTools: [],
  toolCallIds: true,
  reasoning: true,
  images: true,
  streamFormat: 'aws-eventstream',
};
