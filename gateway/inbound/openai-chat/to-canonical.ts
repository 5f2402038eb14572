import type { CanonicalMessage, CanonicalPart, ImagePart } from '../../canonical/item.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import type { CanonicalTool, CanonicalToolChoice } from '../../canonical/tool.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { InboundConversion } from '../openai-responses/to-canonical.ts';

type Json = Record<string, unknown>;

/** Chat Completions request body → canonical. */
// Over 60 lines: one field-by-field mapping from the client's wire format, read top to bottom against the Chat Completions docs.
export function chatToCanonical(body: Json, model: string): InboundConversion {
  const warnings: TranslationWarning[] = [];
  if (!Array.isArray(body['messages'])) throw new GatewayError('invalid_request', { message: 'gatehouse: invalid Chat Completions request: messages must be an array', param: 'messages' });
  const messages: CanonicalMessage[] = [];
  const add = (role: CanonicalMessage['role'], parts: CanonicalPart[]): void => {
    if (parts.length === 0) return;
    const last = messages.at(-1);
    if (last !== undefined && last.role === role && role !== 'system') last.parts.push(...parts);
    else messages.push({ role, parts });
  };
  const callKinds = new Map<string, { name: string; kind: 'function' | 'custom' }>();
  for (const raw of body['messages'] as Json[]) {
    const role = raw['role'];
    if (role === 'system' || role === 'developer') add('system', contentParts(raw['content']));
    else if (role === 'user') add('user', contentParts(raw['content']));
    else if (role === 'assistant') {
      const parts: CanonicalPart[] = contentParts(raw['content']);
      for (const call of Array.isArray(raw['tool_calls']) ? (raw['tool_calls'] as Json[]) : []) {
        const callId = String(call['id'] ?? '');
        if (call['type'] === 'custom') {
          const custom = (call['custom'] ?? {}) as Json;
          callKinds.set(callId, { name: String(custom['name'] ?? ''), kind: 'custom' });
          parts.push({ type: 'tool-call', callId, name: String(custom['name'] ?? ''), kind: 'custom', input: String(custom['input'] ?? '') });
        } else {
          const fn = (call['function'] ?? {}) as Json;
          callKinds.set(callId, { name: String(fn['name'] ?? ''), kind: 'function' });
          parts.push({ type: 'tool-call', callId, name: String(fn['name'] ?? ''), kind: 'function', input: String(fn['arguments'] ?? '{}') });
        }
      }
      add('assistant', parts);
    } else if (role === 'tool') {
      const callId = String(raw['tool_call_id'] ?? '');
      const parts = contentParts(raw['content']);
      const output = parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
      const images = parts.filter((part): part is ImagePart => part.type === 'image');
      const call = callKinds.get(callId);
      add('tool', [{ type: 'tool-result', callId, name: call?.name, kind: call?.kind ?? 'function', output, images: images.length > 0 ? images : undefined, isError: false }]);
    } else warnings.push(warning('unsupported', `message_role:${String(role)}`, `message role ${String(role)} cannot be translated and was not sent`));
  }
  const tools: CanonicalTool[] = [];
  for (const tool of Array.isArray(body['tools']) ? (body['tools'] as Json[]) : []) {
    if (tool['type'] === 'function') {
      const fn = (tool['function'] ?? {}) as Json;
      tools.push({
        kind: 'function',
        name: String(fn['name'] ?? ''),
        description: typeof fn['description'] === 'string' ? fn['description'] : undefined,
        parameters: typeof fn['parameters'] === 'object' && fn['parameters'] !== null ? (fn['parameters'] as Json) : { type: 'object', properties: {} },
        strict: typeof fn['strict'] === 'boolean' ? fn['strict'] : undefined,
      });
    } else if (tool['type'] === 'custom') {
      const custom = (tool['custom'] ?? {}) as Json;
      tools.push({ kind: 'custom', name: String(custom['name'] ?? ''), description: typeof custom['description'] === 'string' ? custom['description'] : undefined, format: (custom['format'] as Json | undefined) ?? undefined });
    } else tools.push({ kind: 'hosted', type: String(tool['type']), raw: tool });
  }
  if (typeof body['n'] === 'number' && body['n'] > 1) warnings.push(warning('unsupported', 'n', 'only one choice (n=1) is produced on translated upstreams'));
  const stop = body['stop'];
  const format = body['response_format'] as Json | undefined;
  const openai: Json = {};
  for (const key of ['service_tier', 'metadata', 'user', 'safety_identifier', 'store']) if (body[key] !== undefined) openai[key] = body[key];
  if (body['verbosity'] !== undefined) openai['text_verbosity'] = body['verbosity'];
  const request: CanonicalRequest = {
    model,
    messages,
    tools,
    toolChoice: chatToolChoice(body['tool_choice']),
    parallelToolCalls: typeof body['parallel_tool_calls'] === 'boolean' ? body['parallel_tool_calls'] : undefined,
    maxOutputTokens: typeof body['max_completion_tokens'] === 'number' ? body['max_completion_tokens'] : typeof body['max_tokens'] === 'number' ? body['max_tokens'] : undefined,
    temperature: typeof body['temperature'] === 'number' ? body['temperature'] : undefined,
    topP: typeof body['top_p'] === 'number' ? body['top_p'] : undefined,
    topK: undefined,
    stopSequences: typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop.map(String) : undefined,
    reasoningEffort: typeof body['reasoning_effort'] === 'string' ? body['reasoning_effort'] : undefined,
    reasoningSummary: undefined,
    // Canonical keeps the Responses form of structured output: {type:"json_schema", name, schema, strict}.
    responseFormat: format !== undefined && format['type'] === 'json_schema' ? { type: 'json_schema', ...((format['json_schema'] ?? {}) as Json) } : format !== undefined && format['type'] !== 'text' ? format : undefined,
    promptCacheKey: typeof body['prompt_cache_key'] === 'string' ? body['prompt_cache_key'] : undefined,
    providerOptions: { openai },
    stream: body['stream'] === true,
  };
  return { request, warnings };
}

function contentParts(content: unknown): CanonicalPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return (content as Json[]).flatMap((part): CanonicalPart[] => {
    if (part['type'] === 'text') return [{ type: 'text', text: String(part['text'] ?? '') }];
    if (part['type'] === 'image_url') {
      const image = (part['image_url'] ?? {}) as Json;
      const url = String(image['url'] ?? '');
      const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
      const detail = typeof image['detail'] === 'string' ? image['detail'] : undefined;
      return [match !== null ? { type: 'image', url: undefined, data: match[2], mediaType: match[1], detail } : { type: 'image', url, data: undefined, mediaType: undefined, detail }];
    }
    if (part['type'] === 'refusal') return [{ type: 'text', text: String(part['refusal'] ?? '') }];
    return [];
  });
}

function chatToolChoice(choice: unknown): CanonicalToolChoice | undefined {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (typeof choice === 'object' && choice !== null) {
    const record = choice as Json;
    const inner = (record['function'] ?? record['custom']) as Json | undefined;
    if (inner !== undefined && typeof inner['name'] === 'string') return { name: inner['name'] };
  }
  return undefined;
}
