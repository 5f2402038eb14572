import type { CanonicalMessage, CanonicalPart, ImagePart } from '../../canonical/item.ts';
import { decodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import type { CanonicalTool, CanonicalToolChoice } from '../../canonical/tool.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import { GatewayError } from '../../errors/gateway-error.ts';

type Json = Record<string, unknown>;

export interface InboundConversion {
  request: CanonicalRequest;
  warnings: TranslationWarning[];
}

/**
 * Responses request body → canonical. Tolerant: unknown item and tool types are not rejected;
 * items that cannot leave OpenAI are dropped with a warning, unknown tools travel as hosted tools
 * (kept for Responses upstreams, dropped with a warning elsewhere).
 */
export function responsesToCanonical(body: Json, model: string): InboundConversion {
  const warnings: TranslationWarning[] = [];
  const messages: CanonicalMessage[] = [];
  const add = (role: CanonicalMessage['role'], part: CanonicalPart): void => {
    const last = messages.at(-1);
    if (last !== undefined && last.role === role && role !== 'system') last.parts.push(part);
    else messages.push({ role, parts: [part] });
  };
  if (typeof body['instructions'] === 'string' && body['instructions'] !== '') add('system', { type: 'text', text: body['instructions'] });
  const input = body['input'];
  if (typeof input === 'string') add('user', { type: 'text', text: input });
  else if (Array.isArray(input)) {
    const callKinds = new Map<string, { name: string; kind: 'function' | 'custom' }>();
    input.forEach((raw, index) => {
      if (typeof raw !== 'object' || raw === null) throw invalid(`input[${index}] must be an object`);
      convertItem(raw as Json, index, add, callKinds, warnings);
    });
  } else throw invalid('input must be a string or an array of items', 'input');

  const tools: CanonicalTool[] = [];
  const rawTools = Array.isArray(body['tools']) ? (body['tools'] as unknown[]) : [];
  const namespaceDescriptions: Json = {};
  for (const raw of rawTools) {
    convertTool(raw as Json, undefined, tools);
    if ((raw as Json)['type'] === 'namespace') namespaceDescriptions[String((raw as Json)['name'])] = (raw as Json)['description'] ?? '';
  }

  const reasoning = typeof body['reasoning'] === 'object' && body['reasoning'] !== null ? (body['reasoning'] as Json) : {};
  const text = typeof body['text'] === 'object' && body['text'] !== null ? (body['text'] as Json) : {};
  const openai: Json = {};
  for (const key of ['include', 'store', 'service_tier', 'metadata', 'user', 'safety_identifier', 'truncation']) if (body[key] !== undefined) openai[key] = body[key];
  if (text['verbosity'] !== undefined) openai['text_verbosity'] = text['verbosity'];
  if (Object.keys(namespaceDescriptions).length > 0) openai['namespace_descriptions'] = namespaceDescriptions;
  if (body['previous_response_id'] !== undefined) warnings.push(warning('unsupported', 'previous_response_id', 'previous_response_id only works on OpenAI; the history must be resent'));
  const format = typeof text['format'] === 'object' && text['format'] !== null ? (text['format'] as Json) : undefined;
  const request: CanonicalRequest = {
    model,
    messages,
    tools,
    toolChoice: toolChoice(body['tool_choice']),
    parallelToolCalls: typeof body['parallel_tool_calls'] === 'boolean' ? body['parallel_tool_calls'] : undefined,
    maxOutputTokens: typeof body['max_output_tokens'] === 'number' ? body['max_output_tokens'] : undefined,
    temperature: typeof body['temperature'] === 'number' ? body['temperature'] : undefined,
    topP: typeof body['top_p'] === 'number' ? body['top_p'] : undefined,
    topK: undefined,
    stopSequences: undefined,
    reasoningEffort: typeof reasoning['effort'] === 'string' ? reasoning['effort'] : undefined,
    reasoningSummary: typeof reasoning['summary'] === 'string' ? reasoning['summary'] : undefined,
    responseFormat: format !== undefined && format['type'] !== 'text' ? format : undefined,
    promptCacheKey: typeof body['prompt_cache_key'] === 'string' ? body['prompt_cache_key'] : undefined,
    providerOptions: { openai },
    stream: body['stream'] === true,
  };
  return { request, warnings };
}

function convertItem(
  item: Json,
  index: number,
  add: (role: CanonicalMessage['role'], part: CanonicalPart) => void,
  callKinds: Map<string, { name: string; kind: 'function' | 'custom' }>,
  warnings: TranslationWarning[],
): void {
  const type = item['type'] ?? (item['role'] !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message': {
      const role = item['role'] === 'assistant' ? 'assistant' : item['role'] === 'user' ? 'user' : 'system';
      const content = item['content'];
      if (typeof content === 'string') add(role, { type: 'text', text: content });
      else if (Array.isArray(content)) for (const part of content as Json[]) add(role, contentPart(part, index, warnings));
      return;
    }
    case 'function_call':
    case 'custom_tool_call': {
      const kind = type === 'function_call' ? 'function' : 'custom';
      const callId = String(item['call_id'] ?? item['id'] ?? `call_${index}`);
      const name = String(item['name'] ?? '');
      callKinds.set(callId, { name, kind });
      const input = kind === 'function' ? String(item['arguments'] ?? '{}') : String(item['input'] ?? '');
      add('assistant', { type: 'tool-call', callId, name, kind, input, namespace: typeof item['namespace'] === 'string' ? item['namespace'] : undefined });
      return;
    }
    case 'function_call_output':
    case 'custom_tool_call_output': {
      const callId = String(item['call_id'] ?? '');
      const call = callKinds.get(callId);
      const { text, images } = toolOutput(item['output']);
      add('tool', { type: 'tool-result', callId, name: call?.name, kind: call?.kind ?? (type === 'function_call_output' ? 'function' : 'custom'), output: text, images: images.length > 0 ? images : undefined, isError: false });
      return;
    }
    case 'reasoning': {
      const summary = Array.isArray(item['summary']) ? (item['summary'] as Json[]).map((part) => String(part['text'] ?? '')) : [];
      const content = Array.isArray(item['content']) ? (item['content'] as Json[]).map((part) => String(part['text'] ?? '')).join('') : '';
      const encrypted = typeof item['encrypted_content'] === 'string' ? decodeOpaque(item['encrypted_content']) : undefined;
      add('assistant', {
        type: 'reasoning',
        id: typeof item['id'] === 'string' ? item['id'] : undefined,
        text: encrypted?.text ?? (content !== '' ? content : summary.join('\n\n')),
        summary,
        opaque: encrypted?.opaque,
      });
      return;
    }
    default:
      // Unknown to the canonical form: kept whole for Responses upstreams (prepare-request drops it elsewhere, with a warning).
      add(item['role'] === 'user' ? 'user' : 'assistant', { type: 'raw-item', family: 'openai', item });
  }
}

function contentPart(part: Json, index: number, warnings: TranslationWarning[]): CanonicalPart {
  switch (part['type']) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return { type: 'text', text: String(part['text'] ?? '') };
    case 'refusal':
      return { type: 'text', text: String(part['refusal'] ?? '') };
    case 'input_image':
      return imagePart(part);
    default:
      warnings.push(warning('unsupported', `content:${String(part['type'])}`, `content part ${String(part['type'])} in input[${index}] sent as text placeholder`));
      return { type: 'text', text: `[${String(part['type'])} omitted]` };
  }
}

function imagePart(part: Json): ImagePart {
  const url = typeof part['image_url'] === 'string' ? part['image_url'] : undefined;
  const detail = typeof part['detail'] === 'string' ? part['detail'] : undefined;
  const match = url !== undefined ? /^data:([^;,]+);base64,(.*)$/s.exec(url) : null;
  if (match !== null) return { type: 'image', url: undefined, data: match[2], mediaType: match[1], detail };
  return { type: 'image', url, data: undefined, mediaType: undefined, detail };
}

function toolOutput(output: unknown): { text: string; images: ImagePart[] } {
  if (typeof output === 'string') return { text: output, images: [] };
  if (!Array.isArray(output)) return { text: JSON.stringify(output ?? ''), images: [] };
  const texts: string[] = [];
  const images: ImagePart[] = [];
  for (const part of output as Json[]) {
    if (part['type'] === 'input_image') images.push(imagePart(part));
    else if (typeof part['text'] === 'string') texts.push(part['text']);
  }
  return { text: texts.join('\n'), images };
}

function convertTool(tool: Json, namespace: string | undefined, tools: CanonicalTool[]): void {
  const type = tool['type'];
  if (type === 'function') {
    tools.push({
      kind: 'function',
      name: String(tool['name'] ?? ''),
      description: typeof tool['description'] === 'string' ? tool['description'] : undefined,
      parameters: typeof tool['parameters'] === 'object' && tool['parameters'] !== null ? (tool['parameters'] as Json) : { type: 'object', properties: {} },
      strict: typeof tool['strict'] === 'boolean' ? tool['strict'] : undefined,
      namespace,
    });
  } else if (type === 'custom') {
    tools.push({
      kind: 'custom',
      name: String(tool['name'] ?? ''),
      description: typeof tool['description'] === 'string' ? tool['description'] : undefined,
      format: typeof tool['format'] === 'object' && tool['format'] !== null ? (tool['format'] as Json) : undefined,
      namespace,
    });
  } else if (type === 'namespace' && Array.isArray(tool['tools'])) {
    for (const member of tool['tools'] as Json[]) convertTool(member, String(tool['name'] ?? ''), tools);
  } else {
    tools.push({ kind: 'hosted', type: String(type), raw: tool });
  }
}

function toolChoice(choice: unknown): CanonicalToolChoice | undefined {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (typeof choice === 'object' && choice !== null && typeof (choice as Json)['name'] === 'string') return { name: (choice as Json)['name'] as string };
  return undefined;
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', { message: `gatehouse: invalid Responses request: ${message}`, ...(param !== undefined ? { param } : {}) });
}
