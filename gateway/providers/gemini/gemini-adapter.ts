import type { ProviderAdapter } from '../provider-adapter.ts';
import { geminiCapabilities } from './capabilities.ts';
import { classifyGeminiError } from './classify-error.ts';
import { fromGeminiBody, fromGeminiStream } from './from-wire-stream.ts';
import { toGeminiRequest } from './to-wire-request.ts';

/** Google Gemini API (generativelanguage). @see https://ai.google.dev/api/generate-content */
export const geminiAdapter: ProviderAdapter = {
  id: 'gemini',
  capabilities: geminiCapabilities,
  buildRequest: toGeminiRequest,
  parseStream: (events) => fromGeminiStream(events),
  parseResponse: (body) => fromGeminiBody(body),
  classifyError: classifyGeminiError,
};
