import type { ProviderCapabilities } from '../provider-adapter.ts';

export const geminiCapabilities: ProviderCapabilities = {
  family: 'gemini',
  customTools: false,
  namespaceTools: false,
  hostedTools: [],
  // 2.5 models return function calls without ids: calls and results are matched by order and name.
  toolCallIds: false,
  reasoning: true,
  images: true,
  streamFormat: 'sse',
};
