import type { CanonicalMessage } from './item.ts';
import type { CanonicalTool, CanonicalToolChoice } from './tool.ts';

/** A request in canonical form, produced by an inbound converter, consumed by a provider adapter. */
export interface CanonicalRequest {
  /** Model id to send upstream (already resolved by the policy decision). */
  model: string;
  messages: CanonicalMessage[];
  tools: CanonicalTool[];
  toolChoice: CanonicalToolChoice | undefined;
  parallelToolCalls: boolean | undefined;
  maxOutputTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
  stopSequences: string[] | undefined;
  /** `minimal|low|medium|high|xhigh`, or undefined for the provider default. */
  reasoningEffort: string | undefined;
  /** Ask for reasoning summaries/thinking text back. */
  reasoningSummary: string | undefined;
  /** Responses `text.format` / Chat `response_format`, kept raw. */
  responseFormat: Record<string, unknown> | undefined;
  /** OpenAI `prompt_cache_key` (Codex: the session id). */
  promptCacheKey: string | undefined;
  /** OpenAI-family settings with no canonical place (`text.verbosity`, `include`, `store`, `service_tier`…). */
  providerOptions: Record<string, Record<string, unknown>>;
  stream: boolean;
}
