import { z } from 'zod';
import { lenientRecord } from '../wire-json.ts';

/**
 * Gemini generateContent wire shapes.
 * @see https://ai.google.dev/api/generate-content
 */
export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: Record<string, unknown>;
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { name: string; args: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
}

/** Prefix of call ids that are Gemini's own `functionCall.id` (newer models); others are ours and never sent. */
export const GEMINI_CALL_ID_PREFIX = 'gm_';

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface GeminiUsage {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
}

/**
 * Keywords the Gemini `parameters` schema (an OpenAPI 3.0 subset) accepts; everything else is
 * adapted or removed with a warning. @see https://ai.google.dev/api/caching#Schema
 */
export const GEMINI_SCHEMA_KEYWORDS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

// Stream chunks are read with lenient schemas (as vercel/ai does; see wire-json.ts readWireEvent):
// unknown fields pass, everything Gemini may omit is optional, an id or model name of the wrong type
// reads as absent. The content (candidates, their parts, a part's text and function call) must be
// readable, or the chunk is reported on the span and skipped.
const optionalText = z.string().nullish().catch(undefined);

const GeminiPartSchema = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional().catch(undefined),
  thoughtSignature: z.string().optional(),
  functionCall: z.looseObject({ id: optionalText, name: z.string(), args: z.unknown() }).optional(),
});

const GeminiCandidateSchema = z.looseObject({
  finishReason: optionalText,
  content: z.looseObject({ parts: z.array(GeminiPartSchema).optional() }).optional(),
});

/** One `alt=sse` chunk (a GenerateContentResponse), or an in-stream `{"error":…}` read as it was. */
export const GeminiChunkSchema = z.looseObject({
  responseId: optionalText,
  modelVersion: optionalText,
  // Usage is a running total: a present usageMetadata replaces the last one (an unreadable one counts zero).
  usageMetadata: lenientRecord.optional(),
  promptFeedback: z.looseObject({ blockReason: optionalText }).nullish().catch(undefined),
  candidates: z.array(GeminiCandidateSchema).optional(),
  error: z.unknown().optional(),
});
export type GeminiChunk = z.infer<typeof GeminiChunkSchema>;
