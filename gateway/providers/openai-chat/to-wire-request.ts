import { createHash } from 'node:crypto';
import type { CanonicalRequest } from '../../canonical/request.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import { resolveOpenAICompatible, type OpenAICompatiblePreset } from '../openai-compatible-presets.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { MERGE_SEPARATOR } from '../normalize-conversation.ts';
import { joinUrl } from '../wire-json.ts';
import type { ChatContentPart, ChatMessage, ChatRequest, ChatTool, ChatToolCall } from './wire-schema.ts';

/** Canonical request → Chat Completions body. */
// Over 60 lines: one field-by-field mapping to the provider's wire format, read top to bottom against the Chat Completions docs.
export function toChatBody(request: CanonicalRequest, preset: OpenAICompatiblePreset): { body: ChatRequest; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  const callId = (id: string): string => mapToolCallId(id, preset.toolCallIdStyle);
  const messages: ChatMessage[] = [];
  let droppedReasoning = 0;
  let mergedAssistantTexts = 0;
  for (const message of request.messages) {
    if (message.role === 'system') {
      const text = message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n\n');
      messages.push({ role: 'system', content: text });
      continue;
    }
    if (message.role === 'assistant') {
      // Consecutive assistant messages arrive as one message of several texts: a blank line keeps them apart.
      const texts = message.parts.flatMap((part) => (part.type === 'text' && part.text !== '' ? [part.text] : []));
      if (texts.length > 1) mergedAssistantTexts += texts.length - 1;
      const text = texts.join(MERGE_SEPARATOR);
      const toolCalls: ChatToolCall[] = message.parts.flatMap((part) => (part.type === 'tool-call' ? [{ id: callId(part.callId), type: 'function' as const, function: { name: part.name, arguments: part.input } }] : []));
      droppedReasoning += message.parts.filter((part) => part.type === 'reasoning').length;
      if (text === '' && toolCalls.length === 0) continue;
      messages.push({ role: 'assistant', content: text === '' ? null : text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
      continue;
    }
    let content: ChatContentPart[] = [];
    const flush = (): void => {
      if (content.length === 0) return;
      const onlyText = content.every((part) => part.type === 'text');
      messages.push({ role: 'user', content: onlyText ? content.map((part) => (part.type === 'text' ? part.text : '')).join('') : content });
      content = [];
    };
    for (const part of message.parts) {
      if (part.type === 'text') content.push({ type: 'text', text: part.text });
      else if (part.type === 'image') content.push({ type: 'image_url', image_url: { url: part.data !== undefined ? `data:${part.mediaType ?? 'image/png'};base64,${part.data}` : (part.url ?? '') } });
      else if (part.type === 'tool-result') {
        flush();
        if (part.images !== undefined && part.images.length > 0) warnings.push(warning('unsupported', 'tool_result.image', 'images in tool results are not supported by Chat Completions and were not sent'));
        // Chat has no error flag on tool results: say it in the content so the model knows.
        messages.push({ role: 'tool', tool_call_id: callId(part.callId), content: part.isError ? `Error: ${part.output}` : part.output });
      }
    }
    flush();
  }
  if (mergedAssistantTexts > 0) warnings.push(warning('compatibility', 'conversation.consecutive_roles', `${mergedAssistantTexts} consecutive assistant text(s) merged into one message (blank line between)`));
  if (droppedReasoning > 0) warnings.push(warning('unsupported', 'reasoning', `${droppedReasoning} reasoning item(s) not sent (Chat Completions has no reasoning input)`));

  const body: ChatRequest = { model: request.model, messages };
  const tools: ChatTool[] = request.tools.flatMap((tool) =>
    tool.kind === 'function'
      ? [{ type: 'function' as const, function: { name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), parameters: tool.parameters, ...(tool.strict === true ? { strict: true } : {}) } }]
      : [],
  );
  if (tools.length > 0) {
    body.tools = tools;
    const choice = request.toolChoice;
    if (choice !== undefined) body.tool_choice = typeof choice === 'object' ? { type: 'function', function: { name: choice.name } } : choice;
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  }
  if (request.maxOutputTokens !== undefined) {
    if (preset.legacyMaxTokens) body.max_tokens = request.maxOutputTokens;
    else body.max_completion_tokens = request.maxOutputTokens;
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) warnings.push(warning('unsupported', 'top_k', 'top_k is not part of Chat Completions'));
  if (request.stopSequences !== undefined) body.stop = request.stopSequences;
  if (request.reasoningEffort !== undefined) {
    if (preset.reasoningEffort) body.reasoning_effort = request.reasoningEffort;
    else warnings.push(warning('unsupported', 'reasoning.effort', 'this OpenAI-compatible server takes no reasoning effort'));
  }
  if (request.responseFormat !== undefined) body.response_format = toChatResponseFormat(request.responseFormat);
  if (request.promptCacheKey !== undefined && !preset.legacyMaxTokens) body.prompt_cache_key = request.promptCacheKey;
  body.stream = request.stream;
  if (request.stream && preset.streamUsageOption) body.stream_options = { include_usage: true };
  return { body, warnings };
}

/** Responses `text.format` `{type:"json_schema",name,schema,strict}` → Chat `{type:"json_schema",json_schema:{…}}`. */
function toChatResponseFormat(format: Record<string, unknown>): Record<string, unknown> {
  if (format['type'] !== 'json_schema' || format['json_schema'] !== undefined) return format;
  const { type, ...rest } = format;
  return { type, json_schema: rest };
}

/** Mistral wants `[a-zA-Z0-9]{9}`: derive one deterministically so calls and results still match. */
export function mapToolCallId(id: string, style: OpenAICompatiblePreset['toolCallIdStyle']): string {
  if (style === 'any' || /^[a-zA-Z0-9]{9}$/.test(id)) return id;
  return createHash('sha256').update(id).digest('base64').replace(/[^a-zA-Z0-9]/g, '').slice(0, 9);
}

export function toChatRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const preset = resolveOpenAICompatible(context.provider);
  const { body, warnings } = toChatBody(request, preset);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json', ...(context.provider.headers ?? {}) };
  const key = context.provider.api_key;
  if (key !== undefined) {
    if (preset.authStyle === 'bearer') headers['authorization'] = `Bearer ${key}`;
    else if (preset.authStyle === 'api-key') headers['api-key'] = key;
    else if (preset.authStyle === 'x-api-key') headers['x-api-key'] = key;
  }
  return { url: joinUrl(preset.baseUrl, '/v1/chat/completions'), method: 'POST', headers, body: JSON.stringify(body), streamFormat: request.stream ? 'sse' : 'json', warnings };
}
