import type { ProviderCapabilities } from '../provider-adapter.ts';

export const openaiCapabilities: ProviderCapabilities = {
  family: 'openai',
  customTools: true,
  namespaceTools: true,
  hostedTools: ['web_search', 'web_search_preview', 'tool_search', 'file_search', 'code_interpreter', 'image_generation', 'local_shell', 'mcp'],
  toolCallIds: true,
  reasoning: true,
  images: true,
  streamFormat: 'sse',
};
