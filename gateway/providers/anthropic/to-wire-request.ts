import type { CanonicalPart, ImagePart } from '../../canonical/item.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { normalizeConversation, type WireTurn } from '../normalize-conversation.ts';
import { joinUrl, parseArguments } from '../wire-json.ts';
import {
  ANTHROPIC_DEFAULT_VERSION,
  ANTHROPIC_SAMPLING_CUTOFF_VERSION,
  type AnthropicContentBlock,
  type AnthropicMessage,
  type AnthropicRequest,
  type AnthropicTextBlock,
  type AnthropicTool,
} from './wire-schema.ts';

/** Thinking budget per reasoning effort (Anthropic wants tokens, OpenAI clients send an effort). */
const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 4096, medium: 10_000, high: 24_000, xhigh: 32_000 };
/** Anthropic requires max_tokens: this when neither the client nor the model's `default_max_output_tokens` sets one. */
export const DEFAULT_MAX_TOKENS = 32_000;

/** Canonical request → Anthropic Messages body. */
// Over 60 lines: one field-by-field mapping to the provider's wire format, read top to bottom against the Messages API docs.
export function toAnthropicBody(request: CanonicalRequest, version: string, defaultMaxTokens = DEFAULT_MAX_TOKENS): { body: AnthropicRequest; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  const system: AnthropicTextBlock[] = [];
  const turns: WireTurn<AnthropicContentBlock>[] = [];
  let unsignedReasoning = 0;
  for (const message of request.messages) {
    if (message.role === 'system') {
      for (const part of message.parts) if (part.type === 'text') system.push({ type: 'text', text: part.text });
      continue;
    }
    const blocks: AnthropicContentBlock[] = [];
    for (const part of message.parts) {
      const block = toBlock(part, warnings);
      if (block === 'unsigned-reasoning') unsignedReasoning++;
      else if (block !== undefined) blocks.push(block);
    }
    turns.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: blocks });
  }
  // Anthropic refuses empty text blocks, wants a user turn first and alternating roles.
  const normalized = normalizeConversation(turns, { provider: 'Anthropic', userFirst: true, textOf: (block) => (block.type === 'text' ? block.text : undefined), text: (text): AnthropicContentBlock => ({ type: 'text', text }) });
  const messages: AnthropicMessage[] = normalized.turns;
  warnings.push(...normalized.warnings);
  if (unsignedReasoning > 0) warnings.push(warning('unsupported', 'reasoning', `${unsignedReasoning} reasoning item(s) without an Anthropic signature not sent (Anthropic only accepts its own signed thinking)`));

  const body: AnthropicRequest = { model: request.model, max_tokens: request.maxOutputTokens ?? defaultMaxTokens, messages };
  // The stable prefix (system, then tools) gets cache breakpoints so Anthropic's prompt cache hits across turns.
  if (system.length > 0) {
    system[system.length - 1] = { ...system[system.length - 1]!, cache_control: { type: 'ephemeral' } };
    body.system = system;
  }
  const tools: AnthropicTool[] = [];
  for (const tool of request.tools) {
    if (tool.kind !== 'function') continue;
    tools.push({ name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), input_schema: tool.parameters });
  }
  if (tools.length > 0) {
    tools[tools.length - 1] = { ...tools[tools.length - 1]!, cache_control: { type: 'ephemeral' } };
    body.tools = tools;
    const disableParallel = request.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
    const choice = request.toolChoice;
    if (choice === 'none') body.tool_choice = { type: 'none' };
    else if (choice === 'required') body.tool_choice = { type: 'any', ...disableParallel };
    else if (typeof choice === 'object') body.tool_choice = { type: 'tool', name: choice.name, ...disableParallel };
    else if (request.parallelToolCalls === false) body.tool_choice = { type: 'auto', ...disableParallel };
  }
  const effort = request.reasoningEffort;
  if (effort !== undefined && effort !== 'none' && THINKING_BUDGET[effort] !== undefined) {
    const conflict = thinkingConflict(body);
    if (conflict !== undefined) warnings.push(warning('unsupported', 'reasoning.effort', `extended thinking not enabled: ${conflict}`));
    else {
      const budget = THINKING_BUDGET[effort]!;
      body.thinking = { type: 'enabled', budget_tokens: budget };
      if (body.max_tokens <= budget) body.max_tokens = budget + 8192;
    }
  }
  const samplingRejected = version >= ANTHROPIC_SAMPLING_CUTOFF_VERSION;
  for (const [key, value] of [['temperature', request.temperature], ['top_p', request.topP], ['top_k', request.topK]] as const) {
    if (value === undefined) continue;
    if (samplingRejected) warnings.push(warning('unsupported', key, `${key} not sent: anthropic-version ${version} rejects it`));
    else if (body.thinking !== undefined) warnings.push(warning('unsupported', key, `${key} not sent: Anthropic rejects it with extended thinking`));
    else body[key] = value;
  }
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) body.stop_sequences = request.stopSequences;
  if (request.responseFormat !== undefined && request.responseFormat['type'] !== 'text') {
    warnings.push(warning('unsupported', 'response_format', 'structured output format is not enforced on Anthropic'));
  }
  body.stream = request.stream;
  return { body, warnings };
}

/**
 * Anthropic rejects thinking when the tool choice forces a tool, and when the assistant turn in
 * progress (tool use awaiting results) does not start with a signed thinking block, which happens
 * when that turn came from another provider.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#extended-thinking-with-tool-use
 */
function thinkingConflict(body: AnthropicRequest): string | undefined {
  if (body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool') return 'Anthropic does not allow it with a forced tool choice';
  const lastAssistant = body.messages.findLast((message) => message.role === 'assistant');
  const inToolLoop = body.messages.at(-1)?.role === 'user' && body.messages.at(-1)?.content.some((block) => block.type === 'tool_result') === true;
  const first = lastAssistant?.content[0]?.type;
  if (inToolLoop && lastAssistant !== undefined && first !== 'thinking' && first !== 'redacted_thinking') return 'the tool-use turn in progress has no Anthropic thinking block (it came from another provider)';
  return undefined;
}

function toBlock(part: CanonicalPart, warnings: TranslationWarning[]): AnthropicContentBlock | 'unsigned-reasoning' | undefined {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return imageBlock(part);
    case 'reasoning':
      if (part.opaque?.family === 'anthropic' && part.opaque.kind === 'redacted_thinking') return { type: 'redacted_thinking', data: part.opaque.value };
      if (part.opaque?.family === 'anthropic') return { type: 'thinking', thinking: part.text, signature: part.opaque.value };
      return 'unsigned-reasoning';
    case 'tool-call': {
      const parsed = parseArguments(part.input);
      if (!parsed.valid) warnings.push(warning('compatibility', `tool_call:${part.name}`, 'tool call arguments were not a JSON object; sent as {}'));
      return { type: 'tool_use', id: part.callId, name: part.name, input: parsed.value };
    }
    case 'tool-result': {
      const images = (part.images ?? []).map(imageBlock);
      const content: string | AnthropicContentBlock[] = images.length > 0 ? [{ type: 'text', text: part.output }, ...images] : part.output;
      return { type: 'tool_result', tool_use_id: part.callId, content, ...(part.isError ? { is_error: true } : {}) };
    }
  }
}

function imageBlock(part: ImagePart): AnthropicContentBlock {
  if (part.data !== undefined) return { type: 'image', source: { type: 'base64', media_type: part.mediaType ?? 'image/png', data: part.data } };
  return { type: 'image', source: { type: 'url', url: part.url ?? '' } };
}

/** Full outbound request: URL, auth header style, version header. */
export function toAnthropicRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const extra = context.provider.headers ?? {};
  const version = extra['anthropic-version'] ?? ANTHROPIC_DEFAULT_VERSION;
  const { body, warnings } = toAnthropicBody(request, version, context.defaultMaxOutputTokens);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json', ...extra, 'anthropic-version': version };
  const key = context.provider.api_key;
  if (key !== undefined && context.provider.auth_style !== 'none') {
    if (context.provider.auth_style === 'bearer') headers['authorization'] = `Bearer ${key}`;
    else headers['x-api-key'] = key;
  }
  return {
    url: joinUrl(context.provider.base_url ?? 'https://api.anthropic.com', '/v1/messages'),
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    streamFormat: request.stream ? 'sse' : 'json',
    warnings,
  };
}
