import type { AdapterParts } from '../provider-definition.ts';
import { geminiCapabilities } from './capabilities.ts';
import { classifyGeminiError } from './classify-error.ts';
import { fromGeminiBody, fromGeminiStream } from './from-wire-stream.ts';
import { toGeminiRequest } from './to-wire-request.ts';

/** Google Gemini API (generativelanguage). @see https://ai.google.dev/api/generate-content */
export const geminiAdapterParts: AdapterParts = {
  capabilities: geminiCapabilities,
  buildRequest: toGeminiRequest,
  parseStream: (events, context) => fromGeminiStream(events, context.warn),
  parseResponse: (body) => fromGeminiBody(body),
  classifyError: classifyGeminiError,
};
