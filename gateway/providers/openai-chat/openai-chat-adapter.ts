import type { AdapterParts } from '../provider-definition.ts';
import { openaiChatCapabilities } from './capabilities.ts';
import { classifyChatError } from './classify-error.ts';
import { fromChatBody, fromChatStream } from './from-wire-stream.ts';
import { toChatRequest } from './to-wire-request.ts';

/** OpenAI Chat Completions and every OpenAI-compatible server (presets: vllm, ollama, groq, …). */
export const openaiChatAdapterParts: AdapterParts = {
  capabilities: openaiChatCapabilities,
  buildRequest: toChatRequest,
  parseStream: (events, context) => fromChatStream(events, context.warn),
  parseResponse: (body) => fromChatBody(body),
  classifyError: classifyChatError,
};
