import type { CanonicalRequest } from '../../canonical/request.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { normalizeConversation, type WireTurn } from '../normalize-conversation.ts';
import { parseArguments } from '../wire-json.ts';
import { GEMINI_CALL_ID_PREFIX, GEMINI_SCHEMA_KEYWORDS, type GeminiContent, type GeminiPart, type GeminiRequest } from './wire-schema.ts';

const THINKING_BUDGET: Record<string, number> = { minimal: 512, low: 1024, medium: 8192, high: 24_576, xhigh: 32_768 };

/** Canonical request → Gemini body. Tool results are matched to calls by order and name (no ids on 2.5). */
// Over 60 lines: one field-by-field mapping to the provider's wire format, read top to bottom against the Gemini API docs.
export function toGeminiBody(request: CanonicalRequest): { body: GeminiRequest; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  const body: GeminiRequest = { contents: [] };
  const callNames = new Map<string, string>();
  for (const message of request.messages) for (const part of message.parts) if (part.type === 'tool-call') callNames.set(part.callId, part.name);
  const systemParts: GeminiPart[] = [];
  const turns: WireTurn<GeminiPart>[] = [];
  for (const message of request.messages) {
    if (message.role === 'system') {
      for (const part of message.parts) if (part.type === 'text') systemParts.push({ text: part.text });
      continue;
    }
    const parts: GeminiPart[] = [];
    let pendingSignature: string | undefined;
    for (const part of message.parts) {
      if (part.type === 'text') parts.push(withSignature({ text: part.text }, pendingSignature)), (pendingSignature = undefined);
      else if (part.type === 'image') parts.push(part.data !== undefined ? { inlineData: { mimeType: part.mediaType ?? 'image/png', data: part.data } } : { fileData: { fileUri: part.url ?? '', ...(part.mediaType !== undefined ? { mimeType: part.mediaType } : {}) } });
      else if (part.type === 'reasoning') {
        // A thought signature belongs on the part that follows it (the first function call of the turn).
        if (part.opaque?.family === 'gemini') pendingSignature = part.opaque.value;
      } else if (part.type === 'tool-call') {
        const parsed = parseArguments(part.input);
        if (!parsed.valid) warnings.push(warning('compatibility', `tool_call:${part.name}`, 'tool call arguments were not a JSON object; sent as {}'));
        parts.push(withSignature({ functionCall: { name: part.name, args: parsed.value, ...geminiId(part.callId) } }, pendingSignature));
        pendingSignature = undefined;
      } else if (part.type === 'tool-result') {
        const name = part.name ?? callNames.get(part.callId) ?? 'unknown_tool';
        parts.push({ functionResponse: { name, response: part.isError ? { error: part.output } : { output: part.output }, ...geminiId(part.callId) } });
        for (const image of part.images ?? []) if (image.data !== undefined) parts.push({ inlineData: { mimeType: image.mediaType ?? 'image/png', data: image.data } });
      }
    }
    turns.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: parts });
  }
  // Gemini refuses empty text parameters, a first turn that is not the user's and roles that do not alternate.
  const textOf = (part: GeminiPart): string | undefined => ('text' in part && typeof part.text === 'string' && part.thoughtSignature === undefined ? part.text : undefined);
  const normalized = normalizeConversation(turns, { provider: 'Gemini', userFirst: true, textOf, text: (text) => ({ text }) });
  body.contents = normalized.turns.map((turn) => ({ role: turn.role === 'assistant' ? 'model' : 'user', parts: turn.content }));
  warnings.push(...normalized.warnings);
  if (systemParts.length > 0) body.systemInstruction = { parts: systemParts };
  const declarations = request.tools.flatMap((tool) => {
    if (tool.kind !== 'function') return [];
    const parameters = adaptSchema(tool.parameters, `tool:${tool.name}`, warnings);
    return [{ name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), ...(hasProperties(parameters) ? { parameters } : {}) }];
  });
  if (declarations.length > 0) {
    body.tools = [{ functionDeclarations: declarations }];
    const choice = request.toolChoice;
    if (choice === 'none') body.toolConfig = { functionCallingConfig: { mode: 'NONE' } };
    else if (choice === 'required') body.toolConfig = { functionCallingConfig: { mode: 'ANY' } };
    else if (typeof choice === 'object') body.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  }
  if (request.parallelToolCalls === false) warnings.push(warning('unsupported', 'parallel_tool_calls', 'Gemini cannot be told to avoid parallel function calls'));
  const generation: Record<string, unknown> = {};
  if (request.maxOutputTokens !== undefined) generation['maxOutputTokens'] = request.maxOutputTokens;
  if (request.temperature !== undefined) generation['temperature'] = request.temperature;
  if (request.topP !== undefined) generation['topP'] = request.topP;
  if (request.topK !== undefined) generation['topK'] = request.topK;
  if (request.stopSequences !== undefined) generation['stopSequences'] = request.stopSequences;
  if (request.reasoningEffort !== undefined && THINKING_BUDGET[request.reasoningEffort] !== undefined) {
    generation['thinkingConfig'] = { includeThoughts: true, thinkingBudget: THINKING_BUDGET[request.reasoningEffort] };
  }
  const format = request.responseFormat;
  if (format !== undefined && format['type'] === 'json_schema') {
    generation['responseMimeType'] = 'application/json';
    const schema = format['schema'] ?? (format['json_schema'] as Record<string, unknown> | undefined)?.['schema'];
    if (schema !== undefined) generation['responseJsonSchema'] = schema;
  } else if (format !== undefined && format['type'] === 'json_object') generation['responseMimeType'] = 'application/json';
  if (Object.keys(generation).length > 0) body.generationConfig = generation;
  return { body, warnings };
}

/** Only ids Gemini made itself go back; without them Gemini matches results by order and name. */
function geminiId(callId: string): { id?: string } {
  return callId.startsWith(GEMINI_CALL_ID_PREFIX) ? { id: callId.slice(GEMINI_CALL_ID_PREFIX.length) } : {};
}

function withSignature(part: GeminiPart, signature: string | undefined): GeminiPart {
  return signature === undefined ? part : { ...part, thoughtSignature: signature };
}

function hasProperties(schema: Record<string, unknown>): boolean {
  const properties = schema['properties'];
  return typeof properties === 'object' && properties !== null && Object.keys(properties).length > 0;
}

/**
 * JSON schema → Gemini's OpenAPI subset: `type: [x, "null"]` → `nullable`, `const` → one-value
 * `enum`, `oneOf` → `anyOf`, non-string enums stringified, unsupported keywords removed. Every
 * change is a warning naming the tool and the keyword.
 */
export function adaptSchema(schema: unknown, feature: string, warnings: TranslationWarning[], path = '$'): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return {};
  const source = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const removed: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((type) => type !== 'null');
      out['type'] = types[0] ?? 'string';
      if (types.length !== value.length) out['nullable'] = true;
      if (types.length > 1) removed.push(`type union ${JSON.stringify(value)}`);
    } else if (key === 'const') {
      // Gemini enums are strings and need a type beside them.
      out['enum'] = [String(value)];
      if (source['type'] === undefined) out['type'] = 'string';
    } else if (key === 'oneOf' || key === 'anyOf') {
      out['anyOf'] = Array.isArray(value) ? value.map((item, index) => adaptSchema(item, feature, warnings, `${path}.${key}[${index}]`)) : [];
    } else if (key === 'properties' && typeof value === 'object' && value !== null) {
      const properties: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(value)) properties[name] = adaptSchema(child, feature, warnings, `${path}.${name}`);
      out['properties'] = properties;
    } else if (key === 'items') {
      out['items'] = adaptSchema(value, feature, warnings, `${path}[]`);
    } else if (key === 'enum' && Array.isArray(value)) {
      if (value.some((item) => typeof item !== 'string')) removed.push('non-string enum values (stringified)');
      out['enum'] = value.filter((item) => item !== null).map(String);
    } else if (key === 'format' && typeof value === 'string' && !['enum', 'date-time', 'int32', 'int64', 'float', 'double'].includes(value)) {
      removed.push(`format:${value}`);
    } else if (GEMINI_SCHEMA_KEYWORDS.has(key)) {
      out[key] = value;
    } else {
      removed.push(key);
    }
  }
  if (out['type'] === 'object' && out['properties'] === undefined && path !== '$') out['properties'] = {};
  if (removed.length > 0) warnings.push(warning('compatibility', feature, `schema at ${path} adapted for Gemini: removed ${removed.join(', ')}`));
  return out;
}

/** `{base}/v1beta/models/{model}:streamGenerateContent?alt=sse` with `x-goog-api-key`. */
export function toGeminiRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const { body, warnings } = toGeminiBody(request);
  const base = (context.provider.base_url ?? 'https://generativelanguage.googleapis.com').replace(/\/+$/, '');
  const root = /\/v1(beta|alpha)?$/.test(base) ? base : `${base}/v1beta`;
  const model = request.model.startsWith('models/') ? request.model.slice('models/'.length) : request.model;
  const url = `${root}/models/${encodeURIComponent(model)}:${request.stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(context.provider.headers ?? {}) };
  if (context.provider.api_key !== undefined) headers['x-goog-api-key'] = context.provider.api_key;
  return { url, method: 'POST', headers, body: JSON.stringify(body), streamFormat: request.stream ? 'sse' : 'json', warnings };
}

export type { GeminiContent };
