/** Token usage in OpenAI's convention: `inputTokens` includes cached and cache-write tokens. */
export interface NormalizedUsage {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

export const EMPTY_USAGE: NormalizedUsage = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/** A tool call the model made, as the client will receive it. */
export interface OutputToolCall {
  callId: string;
  name: string;
  kind: 'function' | 'custom';
  /** JSON text for functions, raw input for custom tools. Not stored unless capture allows. */
  input: string;
}

/**
 * Everything known about one finished turn, handed to the evaluator's signal extraction
 * off the request path. `span` is the row written to `gatehouse.spans`.
 */
export interface TurnRecord {
  span: SpanRow;
  /** Inbound request body (parsed), for tool outputs in the resent history and declared tools. */
  body: Record<string, unknown>;
  inbound: 'openai-responses' | 'openai-chat' | 'anthropic-messages';
  toolCalls: OutputToolCall[];
}

/** A `gatehouse.spans` row. */
export interface SpanRow {
  ts: string;
  request_id: string;
  trace_id: string;
  span_id: string;
  session_id: string;
  turn_id: string;
  turn_seq: number;
  developer: string;
  identity: string;
  cost_center: string;
  repo: string;
  key_id: string;
  tags: string[];
  requested_model: string;
  served_model: string;
  provider: string;
  provider_type: string;
  inbound_protocol: string;
  stream: boolean;
  status_code: number;
  error_code: string;
  error_message: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
  /** Where the price behind `cost_usd` came from: `policy` or `catalog:<package>@<version>:<provider>/<model>`. */
  price_source: string;
  /** Secrets the guardrail found in what this turn sent upstream (values are never stored). */
  guardrail_findings: number;
  /** The guardrail hook's decisions this turn, `<phase>:<result>` space-separated (`before_hop:allow after_hop:block`); '' without a hook call. */
  guardrail_hook: string;
  budget_stage: string;
  downgraded_from: string;
  fallback_from: string;
  hop_reason: string;
  attempts: string;
  rule_id: string;
  rule_dry_run: boolean;
  /** '' | 'treatment' | 'holdout' | 'exploration' (see gateway/policy/evaluate-policy.ts). */
  experiment_arm: string;
  /** The reasoning effort the upstream was asked for ('' = none): the client's, or the lowered one of an exploration turn. */
  reasoning_effort: string;
  /** The reasoning effort the client sent ('' = none). */
  requested_reasoning_effort: string;
  policy_version: number;
  dry_run_decision: string;
  translation_warnings: string[];
  tool_call_count: number;
  input_token_estimate: number;
  duration_ms: number;
  ttfb_ms: number;
  client: string;
  capture: string;
}
