export { azureOpenAIAdapter } from './azure-openai-adapter.ts';
