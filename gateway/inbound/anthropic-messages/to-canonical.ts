import type { CanonicalMessage, CanonicalPart, ImagePart } from '../../canonical/item.ts';
import { decodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import type { CanonicalTool, CanonicalToolChoice } from '../../canonical/tool.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { InboundConversion } from '../openai-responses/to-canonical.ts';

type Json = Record<string, unknown>;

/** Anthropic Messages request body → canonical. */
// Over 60 lines: one field-by-field mapping from the client's wire format, read top to bottom against the Messages API docs.
export function anthropicMessagesToCanonical(body: Json, model: string): InboundConversion {
  const warnings: TranslationWarning[] = [];
  if (!Array.isArray(body['messages'])) throw new GatewayError('invalid_request', { message: 'gatehouse: invalid Messages request: messages must be an array', param: 'messages' });
  const messages: CanonicalMessage[] = [];
  const add = (role: CanonicalMessage['role'], part: CanonicalPart): void => {
    const last = messages.at(-1);
    if (last !== undefined && last.role === role && role !== 'system') last.parts.push(part);
    else messages.push({ role, parts: [part] });
  };
  const system = body['system'];
  if (typeof system === 'string' && system !== '') add('system', { type: 'text', text: system });
  else if (Array.isArray(system)) for (const block of system as Json[]) if (block['type'] === 'text') add('system', { type: 'text', text: String(block['text'] ?? '') });
  const callNames = new Map<string, string>();
  for (const message of body['messages'] as Json[]) {
    const assistant = message['role'] === 'assistant';
    const content = message['content'];
    if (typeof content === 'string') {
      add(assistant ? 'assistant' : 'user', { type: 'text', text: content });
      continue;
    }
    for (const block of Array.isArray(content) ? (content as Json[]) : []) {
      switch (block['type']) {
        case 'text':
          add(assistant ? 'assistant' : 'user', { type: 'text', text: String(block['text'] ?? '') });
          break;
        case 'image':
          add(assistant ? 'assistant' : 'user', imagePart(block));
          break;
        case 'thinking': {
          const signature = typeof block['signature'] === 'string' ? block['signature'] : '';
          const decoded = signature.startsWith('gh1.') ? decodeOpaque(signature) : undefined;
          add('assistant', { type: 'reasoning', id: undefined, text: String(block['thinking'] ?? ''), summary: [], opaque: decoded?.opaque ?? (signature !== '' ? { family: 'anthropic', kind: 'signature', value: signature } : undefined) });
          break;
        }
        case 'redacted_thinking':
          add('assistant', { type: 'reasoning', id: undefined, text: '', summary: [], opaque: { family: 'anthropic', kind: 'redacted_thinking', value: String(block['data'] ?? '') } });
          break;
        case 'tool_use': {
          const callId = String(block['id'] ?? '');
          callNames.set(callId, String(block['name'] ?? ''));
          add('assistant', { type: 'tool-call', callId, name: String(block['name'] ?? ''), kind: 'function', input: JSON.stringify(block['input'] ?? {}) });
          break;
        }
        case 'tool_result': {
          const callId = String(block['tool_use_id'] ?? '');
          const inner = block['content'];
          const blocks = typeof inner === 'string' ? [{ type: 'text', text: inner }] : Array.isArray(inner) ? (inner as Json[]) : [];
          const images = blocks.filter((item) => item['type'] === 'image').map(imagePart);
          const output = blocks.flatMap((item) => (item['type'] === 'text' ? [String(item['text'] ?? '')] : [])).join('\n');
          add('tool', { type: 'tool-result', callId, name: callNames.get(callId), kind: 'function', output, images: images.length > 0 ? images : undefined, isError: block['is_error'] === true });
          break;
        }
        default:
          warnings.push(warning('unsupported', `content:${String(block['type'])}`, `content block ${String(block['type'])} cannot be translated and was not sent`));
      }
    }
  }
  const tools: CanonicalTool[] = [];
  for (const tool of Array.isArray(body['tools']) ? (body['tools'] as Json[]) : []) {
    if (tool['input_schema'] !== undefined && (tool['type'] === undefined || tool['type'] === 'custom')) {
      tools.push({ kind: 'function', name: String(tool['name'] ?? ''), description: typeof tool['description'] === 'string' ? tool['description'] : undefined, parameters: tool['input_schema'] as Json, strict: undefined });
    } else tools.push({ kind: 'hosted', type: String(tool['type'] ?? tool['name']), raw: tool });
  }
  const choice = (body['tool_choice'] ?? undefined) as Json | undefined;
  const thinking = (body['thinking'] ?? undefined) as Json | undefined;
  const request: CanonicalRequest = {
    model,
    messages,
    tools,
    toolChoice: toolChoice(choice),
    parallelToolCalls: choice?.['disable_parallel_tool_use'] === true ? false : undefined,
    maxOutputTokens: typeof body['max_tokens'] === 'number' ? body['max_tokens'] : undefined,
    temperature: typeof body['temperature'] === 'number' ? body['temperature'] : undefined,
    topP: typeof body['top_p'] === 'number' ? body['top_p'] : undefined,
    topK: typeof body['top_k'] === 'number' ? body['top_k'] : undefined,
    stopSequences: Array.isArray(body['stop_sequences']) ? body['stop_sequences'].map(String) : undefined,
    reasoningEffort: thinkingEffort(thinking),
    reasoningSummary: thinking !== undefined && thinking['type'] !== 'disabled' ? 'auto' : undefined,
    responseFormat: undefined,
    promptCacheKey: undefined,
    providerOptions: {},
    stream: body['stream'] === true,
  };
  return { request, warnings };
}

function imagePart(block: Json): ImagePart {
  const source = (block['source'] ?? {}) as Json;
  if (source['type'] === 'base64') return { type: 'image', url: undefined, data: String(source['data'] ?? ''), mediaType: String(source['media_type'] ?? 'image/png') };
  return { type: 'image', url: String(source['url'] ?? ''), data: undefined, mediaType: undefined };
}

function toolChoice(choice: Json | undefined): CanonicalToolChoice | undefined {
  switch (choice?.['type']) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { name: String(choice['name'] ?? '') };
    default:
      return undefined;
  }
}

/** Anthropic budgets tokens; OpenAI-style upstreams take an effort. */
function thinkingEffort(thinking: Json | undefined): string | undefined {
  if (thinking === undefined || thinking['type'] === 'disabled') return undefined;
  const budget = typeof thinking['budget_tokens'] === 'number' ? thinking['budget_tokens'] : 10_000;
  return budget <= 2048 ? 'low' : budget <= 16_000 ? 'medium' : 'high';
}
