import type { ProviderConfig } from '../../shared/config/config-schema.ts';
import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import { ANTHROPIC_DEFAULT_VERSION } from '../providers/anthropic/wire-schema.ts';
import { resolveOpenAICompatible } from '../providers/openai-compatible-presets.ts';
import { joinUrl as joinWireUrl } from '../providers/wire-json.ts';
import type { InboundProtocol } from './forward-types.ts';
import { toolCallsFromAnthropicContent, usageFromAnthropic } from './read-anthropic-usage.ts';
import { toolCallsFromChatMessage, toolCallsFromResponsesOutput, usageFromChat, usageFromResponses } from './read-openai-usage.ts';

/** What a whole (non-streaming) answer says about the turn. */
export interface AnswerFacts {
  usage: NormalizedUsage | undefined;
  toolCalls: OutputToolCall[];
  model: string | undefined;
}

/**
 * What differs between same-protocol pass-throughs: where the request goes (each provider type's own
 * vendor by default, never another's), how the provider's key travels, how usage is read from the
 * answer, and how a failure after the first byte is told in the protocol. The mechanism that moves
 * the bytes is one (forward-passthrough.ts).
 */
export interface PassthroughProtocol {
  /** Upstream URL; `query` is the client's query string (`?beta=true` from Anthropic SDKs), kept where the protocol has one. */
  url(provider: ProviderConfig, upstreamPath: string | undefined, query: string): string;
  /** Adds the provider's key (and protocol headers the client may have left out) to the outgoing headers. */
  addAuth(provider: ProviderConfig, headers: Record<string, string>, clientHeaders: Record<string, string>): void;
  /** Last changes to a copied body the upstream needs; true when something changed. */
  patchBody(body: Record<string, unknown>, stream: boolean): boolean;
  readAnswer(parsed: Record<string, unknown>): AnswerFacts;
  /** Name of the event that ends a complete stream (in messages). */
  finalEvent: string;
  /** The protocol's own in-stream error, for failures after the first byte. */
  inBandError(code: string, message: string, requestId: string): string;
}

function setKey(headers: Record<string, string>, style: NonNullable<ProviderConfig['auth_style']>, key: string | undefined): void {
  if (key === undefined || style === 'none') return;
  if (style === 'bearer') headers.authorization = `Bearer ${key}`;
  else headers[style] = key;
}

const responsesPassthrough: PassthroughProtocol = {
  url: (provider, upstreamPath) => (provider.base_url ?? 'https://api.openai.com/v1').replace(/\/+$/, '') + (upstreamPath ?? '/responses'),
  addAuth: (provider, headers) => setKey(headers, provider.auth_style ?? 'bearer', provider.api_key),
  patchBody: () => false,
  readAnswer: (parsed) => ({ usage: usageFromResponses(parsed.usage as never), toolCalls: toolCallsFromResponsesOutput(parsed.output), model: typeof parsed.model === 'string' ? parsed.model : undefined }),
  finalEvent: 'response.completed',
  inBandError(code, message, requestId) {
    // Codex CLI surfaces a response.failed's message in the terminal; a bare `error` event it may not.
    const response = { id: `resp_${requestId}`, object: 'response', status: 'failed', error: { code, message }, output: [], usage: null };
    return `event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', sequence_number: 0, response })}\n\n`;
  },
};

const chatPassthrough: PassthroughProtocol = {
  // The preset's base (groq, mistral…) when the config has none: the key goes to the server it belongs to.
  url: (provider, upstreamPath) => resolveOpenAICompatible(provider).baseUrl.replace(/\/+$/, '') + (upstreamPath ?? '/chat/completions'),
  addAuth: (provider, headers) => setKey(headers, resolveOpenAICompatible(provider).authStyle, provider.api_key),
  patchBody(body, stream) {
    // Chat streams report usage only when asked; cost accounting needs it.
    if (!stream || (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) return false;
    body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
    return true;
  },
  readAnswer: (parsed) => ({ usage: usageFromChat(parsed.usage as never), toolCalls: toolCallsFromChatMessage((parsed.choices as { message?: unknown }[] | undefined)?.[0]?.message), model: typeof parsed.model === 'string' ? parsed.model : undefined }),
  finalEvent: '[DONE]',
  inBandError: (code, message, requestId) => `data: ${JSON.stringify({ error: { type: 'api_error', code, message, param: null, request_id: requestId } })}\n\n`,
};

const messagesPassthrough: PassthroughProtocol = {
  url: (provider, upstreamPath, query) => joinWireUrl(provider.base_url ?? 'https://api.anthropic.com', upstreamPath ?? '/v1/messages') + query,
  addAuth(provider, headers, clientHeaders) {
    setKey(headers, provider.auth_style === 'bearer' || provider.auth_style === 'none' ? provider.auth_style : 'x-api-key', provider.api_key);
    // The client's version and betas describe its body: they win over a configured default.
    headers['anthropic-version'] = clientHeaders['anthropic-version'] ?? provider.headers?.['anthropic-version'] ?? ANTHROPIC_DEFAULT_VERSION;
    if (clientHeaders['anthropic-beta'] !== undefined) headers['anthropic-beta'] = clientHeaders['anthropic-beta'];
  },
  patchBody: () => false,
  readAnswer: (parsed) => ({ usage: usageFromAnthropic(parsed.usage as never), toolCalls: toolCallsFromAnthropicContent(parsed.content), model: typeof parsed.model === 'string' ? parsed.model : undefined }),
  finalEvent: 'message_stop',
  inBandError(code, message) {
    // Anthropic SDKs (Claude Code) throw an `error` event's message as the API error they show.
    const type = code === 'upstream_timeout' ? 'timeout_error' : 'api_error';
    return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message, code } })}\n\n`;
  },
};

/** Inbound protocol → its same-protocol pass-through. */
export const PASSTHROUGH_PROTOCOLS: Readonly<Record<InboundProtocol, PassthroughProtocol>> = {
  'openai-responses': responsesPassthrough,
  'openai-chat': chatPassthrough,
  'anthropic-messages': messagesPassthrough,
};
