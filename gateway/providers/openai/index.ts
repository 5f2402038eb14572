export { openaiAdapter } from './openai-adapter.ts';
