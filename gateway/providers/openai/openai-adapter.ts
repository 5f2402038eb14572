import type { AdapterParts } from '../provider-definition.ts';
import { openaiCapabilities } from './capabilities.ts';
import { classifyOpenAIError } from './classify-error.ts';
import { fromResponsesBody, fromResponsesStream } from './from-wire-stream.ts';
import { toOpenAIRequest } from './to-wire-request.ts';

/** OpenAI Responses API. @see https://platform.openai.com/docs/api-reference/responses */
export const openaiAdapterParts: AdapterParts = {
  capabilities: openaiCapabilities,
  buildRequest: toOpenAIRequest,
  parseStream: (events, context) => fromResponsesStream(events, 'openai', context.warn),
  parseResponse: (body) => fromResponsesBody(body),
  classifyError: (failure) => classifyOpenAIError(failure, 'openai'),
};
