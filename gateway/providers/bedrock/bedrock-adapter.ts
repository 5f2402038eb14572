import type { AdapterParts } from '../provider-definition.ts';
import { bedrockCapabilities } from './capabilities.ts';
import { classifyBedrockError } from './classify-error.ts';
import { fromBedrockBody, fromBedrockStream } from './from-wire-stream.ts';
import { toBedrockRequest } from './to-wire-request.ts';

/** Amazon Bedrock Converse / ConverseStream (SigV4, binary event stream). */
export const bedrockAdapterParts: AdapterParts = {
  capabilities: bedrockCapabilities,
  buildRequest: toBedrockRequest,
  parseStream: (events, context) => fromBedrockStream(events, context.warn),
  parseResponse: (body) => fromBedrockBody(body),
  classifyError: classifyBedrockError,
};
