import type { CanonicalResponse } from '../canonical/response.ts';
import { anthropicMessagesToCanonical } from '../inbound/anthropic-messages/to-canonical.ts';
import { renderAnthropicMessagesBody } from '../inbound/anthropic-messages/render-response.ts';
import { createAnthropicMessagesStreamRenderer } from '../inbound/anthropic-messages/render-stream.ts';
import { chatToCanonical } from '../inbound/openai-chat/to-canonical.ts';
import { renderChatBody } from '../inbound/openai-chat/render-response.ts';
import { createChatStreamRenderer } from '../inbound/openai-chat/render-stream.ts';
import { responsesToCanonical, type InboundConversion } from '../inbound/openai-responses/to-canonical.ts';
import { renderResponsesBody } from '../inbound/openai-responses/render-response.ts';
import { createResponsesStreamRenderer } from '../inbound/openai-responses/render-stream.ts';
import type { RenderContext, StreamRenderer } from '../inbound/render-context.ts';
import type { InboundProtocol } from './forward-types.ts';

/** The converters of one client protocol. */
export interface InboundProtocolConverters {
  toCanonical(body: Record<string, unknown>, model: string): InboundConversion;
  createStreamRenderer(context: RenderContext): StreamRenderer;
  renderBody(response: CanonicalResponse, context: RenderContext): Record<string, unknown>;
}

export const INBOUND_PROTOCOLS: Readonly<Record<InboundProtocol, InboundProtocolConverters>> = {
  'openai-responses': { toCanonical: responsesToCanonical, createStreamRenderer: createResponsesStreamRenderer, renderBody: renderResponsesBody },
  'openai-chat': { toCanonical: chatToCanonical, createStreamRenderer: createChatStreamRenderer, renderBody: renderChatBody },
  'anthropic-messages': { toCanonical: anthropicMessagesToCanonical, createStreamRenderer: createAnthropicMessagesStreamRenderer, renderBody: renderAnthropicMessagesBody },
};
