import type { AdapterParts } from '../provider-definition.ts';
import { anthropicCapabilities } from './capabilities.ts';
import { classifyAnthropicError } from './classify-error.ts';
import { fromAnthropicBody, fromAnthropicStream } from './from-wire-stream.ts';
import { toAnthropicRequest } from './to-wire-request.ts';

/** Anthropic Messages API. @see https://docs.anthropic.com/en/api/messages */
export const anthropicAdapterParts: AdapterParts = {
  capabilities: anthropicCapabilities,
  buildRequest: toAnthropicRequest,
  parseStream: (events, context) => fromAnthropicStream(events, context.warn),
  parseResponse: (body) => fromAnthropicBody(body),
  classifyError: classifyAnthropicError,
};
