import type { ProviderAdapter } from '../provider-adapter.ts';
import { anthropicCapabilities } from './capabilities.ts';
import { classifyAnthropicError } from './classify-error.ts';
import { fromAnthropicBody, fromAnthropicStream } from './from-wire-stream.ts';
import { toAnthropicRequest } from './to-wire-request.ts';

/** Anthropic Messages API. @see https://docs.anthropic.com/en/api/messages */
export const anthropicAdapter: ProviderAdapter = {
  id: 'anthropic',
  capabilities: anthropicCapabilities,
  buildRequest: toAnthropicRequest,
  parseStream: (events) => fromAnthropicStream(events),
  parseResponse: (body) => fromAnthropicBody(body),
  classifyError: classifyAnthropicError,
};
