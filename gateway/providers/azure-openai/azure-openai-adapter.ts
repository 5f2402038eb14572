import { fromResponsesBody } from '../openai/from-wire-stream.ts';
import type { AdapterParts } from '../provider-definition.ts';
import { azureOpenAICapabilities } from './capabilities.ts';
import { classifyAzureOpenAIError } from './classify-error.ts';
import { fromAzureOpenAIStream } from './from-wire-stream.ts';
import { toAzureOpenAIRequest } from './to-wire-request.ts';

/** Azure OpenAI, Responses API. */
export const azureOpenAIAdapterParts: AdapterParts = {
  capabilities: azureOpenAICapabilities,
  buildRequest: toAzureOpenAIRequest,
  parseStream: (events, context) => fromAzureOpenAIStream(events, context.warn),
  parseResponse: (body) => fromResponsesBody(body),
  classifyError: classifyAzureOpenAIError,
};
