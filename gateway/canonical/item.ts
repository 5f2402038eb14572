/**
 * The canonical conversation: messages of typed parts. Tool calls and results are parts of
 * `assistant` and `tool` messages; system/developer text is a `system` message.
 */
export interface CanonicalMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  parts: CanonicalPart[];
}

export type CanonicalPart = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart | RawItemPart;

/**
 * An input item the canonical form has no type for (e.g. a Responses `compaction` item), kept
 * whole so an upstream of the same family gets it back unchanged; dropped with a warning elsewhere.
 */
export interface RawItemPart {
  type: 'raw-item';
  family: ProviderFamily;
  item: Record<string, unknown>;
}

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  /** http(s) URL, or undefined when inline `data` is given. */
  url: string | undefined;
  /** Base64 bytes. */
  data: string | undefined;
  mediaType: string | undefined;
  detail?: string | undefined;
}

export interface ToolCallPart {
  type: 'tool-call';
  callId: string;
  name: string;
  /** The kind the CLIENT declared; `custom` calls carry their raw input. */
  kind: 'function' | 'custom';
  /** JSON text for functions, raw text for custom tools. */
  input: string;
  namespace?: string | undefined;
  /** Provider-only data that can only go back to the same provider family (e.g. Gemini thoughtSignature). */
  opaque?: OpaqueData | undefined;
}

export interface ToolResultPart {
  type: 'tool-result';
  callId: string;
  /** Known when the call is in the history (Gemini needs it). */
  name: string | undefined;
  kind: 'function' | 'custom';
  output: string;
  images?: ImagePart[] | undefined;
  isError: boolean;
}

/**
 * Model reasoning. `text` is readable thinking/summary; `opaque` is what only the producing
 * provider family can read back (OpenAI encrypted_content, Anthropic signature or
 * redacted_thinking, Gemini thought signature). Dropped with a warning when crossing families.
 */
export interface ReasoningPart {
  type: 'reasoning';
  id: string | undefined;
  text: string;
  /** Summary texts, when the provider gives summaries rather than raw thinking. */
  summary: string[];
  opaque: OpaqueData | undefined;
}

export interface OpaqueData {
  family: ProviderFamily;
  /** e.g. `encrypted_content`, `signature`, `redacted_thinking`, `thought_signature`. */
  kind: string;
  value: string;
}

/** Providers that read each other's opaque data. OpenAI and Azure OpenAI are one family. */
export type ProviderFamily = 'openai' | 'anthropic' | 'gemini' | 'bedrock' | 'openai-chat';
