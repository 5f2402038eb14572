import type { CanonicalPart, ImagePart } from '../../canonical/item.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import type { CanonicalTool } from '../../canonical/tool.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { joinUrl } from '../wire-json.ts';
import type { ResponsesInputItem, ResponsesRequest } from './wire-schema.ts';

/** Canonical request → Responses body (used by `openai` and `azure-openai`). */
export function toResponsesBody(request: CanonicalRequest): { body: ResponsesRequest; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  const input: ResponsesInputItem[] = [];
  let unsignedReasoning = 0;
  for (const message of request.messages) {
    let content: Record<string, unknown>[] = [];
    const role = message.role === 'system' ? 'developer' : message.role === 'tool' ? 'user' : message.role;
    const flush = (): void => {
      if (content.length > 0) input.push({ type: 'message', role, content });
      content = [];
    };
    for (const part of message.parts) {
      if (part.type === 'text') content.push({ type: role === 'assistant' ? 'output_text' : 'input_text', text: part.text, ...(role === 'assistant' ? { annotations: [] } : {}) });
      else if (part.type === 'image') content.push(imageContent(part));
      else {
        flush();
        const item = toItem(part);
        if (item === undefined) unsignedReasoning++;
        else input.push(item);
      }
    }
    flush();
  }
  if (unsignedReasoning > 0) warnings.push(warning('unsupported', 'reasoning', `${unsignedReasoning} reasoning item(s) without OpenAI encrypted content not sent`));

  const body: ResponsesRequest = { model: request.model, input };
  const tools = toResponsesTools(request.tools, (request.providerOptions['openai']?.['namespace_descriptions'] ?? {}) as Record<string, unknown>);
  if (tools.length > 0) body.tools = tools;
  const choice = request.toolChoice;
  if (choice !== undefined) body.tool_choice = typeof choice === 'object' ? toolChoiceFor(choice.name, request.tools) : choice;
  if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  if (request.reasoningEffort !== undefined || request.reasoningSummary !== undefined) {
    body.reasoning = { ...(request.reasoningEffort !== undefined ? { effort: request.reasoningEffort } : {}), ...(request.reasoningSummary !== undefined ? { summary: request.reasoningSummary } : {}) };
  }
  if (request.maxOutputTokens !== undefined) body.max_output_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) warnings.push(warning('unsupported', 'top_k', 'top_k is not supported by the Responses API'));
  if (request.stopSequences !== undefined) warnings.push(warning('unsupported', 'stop', 'stop sequences are not supported by the Responses API'));
  const options = request.providerOptions['openai'] ?? {};
  const text: Record<string, unknown> = {};
  if (request.responseFormat !== undefined) text['format'] = request.responseFormat;
  if (options['text_verbosity'] !== undefined) text['verbosity'] = options['text_verbosity'];
  if (Object.keys(text).length > 0) body.text = text;
  body.store = typeof options['store'] === 'boolean' ? options['store'] : false;
  // Without `store`, reasoning must come back encrypted to be resent next turn.
  body.include = Array.isArray(options['include']) ? (options['include'] as string[]) : ['reasoning.encrypted_content'];
  if (request.promptCacheKey !== undefined) body.prompt_cache_key = request.promptCacheKey;
  for (const key of ['service_tier', 'metadata', 'user', 'safety_identifier', 'truncation']) if (options[key] !== undefined) body[key] = options[key];
  body.stream = request.stream;
  return { body, warnings };
}

function toItem(part: Exclude<CanonicalPart, { type: 'text' | 'image' }>): ResponsesInputItem | undefined {
  switch (part.type) {
    case 'reasoning':
      if (part.opaque?.family !== 'openai') return undefined;
      return {
        type: 'reasoning',
        ...(part.id !== undefined ? { id: part.id } : {}),
        summary: (part.summary.length > 0 ? part.summary : part.text !== '' ? [part.text] : []).map((text) => ({ type: 'summary_text', text })),
        encrypted_content: part.opaque.value,
      };
    case 'tool-call':
      return part.kind === 'custom'
        ? { type: 'custom_tool_call', call_id: part.callId, name: part.name, input: part.input, ...(part.namespace !== undefined ? { namespace: part.namespace } : {}) }
        : { type: 'function_call', call_id: part.callId, name: part.name, arguments: part.input, ...(part.namespace !== undefined ? { namespace: part.namespace } : {}) };
    case 'raw-item':
      return part.item as ResponsesInputItem;
    case 'tool-result': {
      const output = part.images !== undefined && part.images.length > 0 ? [{ type: 'input_text', text: part.output }, ...part.images.map(imageContent)] : part.output;
      return { type: part.kind === 'custom' ? 'custom_tool_call_output' : 'function_call_output', call_id: part.callId, output };
    }
  }
}

function imageContent(part: ImagePart): Record<string, unknown> {
  const url = part.data !== undefined ? `data:${part.mediaType ?? 'image/png'};base64,${part.data}` : part.url;
  return { type: 'input_image', image_url: url, detail: part.detail ?? 'auto' };
}

/** Tools with fixed key order; namespace members are regrouped under their `namespace` tool. */
export function toResponsesTools(tools: CanonicalTool[], namespaceDescriptions: Record<string, unknown> = {}): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const tool of tools) {
    if (tool.kind === 'hosted') {
      out.push(tool.raw);
      continue;
    }
    const wire: Record<string, unknown> =
      tool.kind === 'function'
        ? { type: 'function', name: tool.name, description: tool.description ?? '', strict: tool.strict ?? false, parameters: tool.parameters }
        : { type: 'custom', name: tool.name, description: tool.description ?? '', ...(tool.format !== undefined ? { format: tool.format } : {}) };
    if (tool.namespace === undefined) {
      out.push(wire);
      continue;
    }
    let members = groups.get(tool.namespace);
    if (members === undefined) {
      members = [];
      groups.set(tool.namespace, members);
      out.push({ type: 'namespace', name: tool.namespace, description: typeof namespaceDescriptions[tool.namespace] === 'string' ? namespaceDescriptions[tool.namespace] : '', tools: members });
    }
    members.push(wire);
  }
  return out;
}

function toolChoiceFor(name: string, tools: CanonicalTool[]): Record<string, unknown> {
  const tool = tools.find((candidate) => candidate.kind !== 'hosted' && candidate.name === name);
  return { type: tool?.kind === 'custom' ? 'custom' : 'function', name };
}

/** OpenAI: `{base_url}/responses` with a bearer key. */
export function toOpenAIRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const { body, warnings } = toResponsesBody(request);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json', ...(context.provider.headers ?? {}) };
  if (context.provider.api_key !== undefined) headers['authorization'] = `Bearer ${context.provider.api_key}`;
  return {
    url: joinUrl(context.provider.base_url ?? 'https://api.openai.com/v1', '/v1/responses'),
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    streamFormat: request.stream ? 'sse' : 'json',
    warnings,
  };
}
