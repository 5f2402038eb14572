export { openaiChatAdapter } from './openai-chat-adapter.ts';
