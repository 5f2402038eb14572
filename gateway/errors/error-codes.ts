/**
 * The catalog of user-facing error codes: status, OpenAI `type`, Anthropic `type` and log level.
 * Every code is documented in ./ERRORS.md (a test checks both stay in step). Retired codes are never reused.
 */
export const ERROR_CODES = {
  invalid_api_key: { status: 401, openaiType: 'invalid_request_error', anthropicType: 'authentication_error', level: 'info' },
  model_not_allowed: { status: 403, openaiType: 'invalid_request_error', anthropicType: 'permission_error', level: 'info' },
  provider_not_allowed: { status: 403, openaiType: 'invalid_request_error', anthropicType: 'permission_error', level: 'info' },
  budget_exhausted: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', level: 'info' },
  rate_limit_exceeded: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', level: 'info' },
  retry_limit_exceeded: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', level: 'info' },
  secret_detected: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', level: 'info' },
  guardrail_blocked: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', level: 'info' },
  guardrail_unavailable: { status: 503, openaiType: 'api_error', anthropicType: 'api_error', level: 'warn' },
  invalid_request: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', level: 'info' },
  not_found: { status: 404, openaiType: 'invalid_request_error', anthropicType: 'not_found_error', level: 'info' },
  payload_too_large: { status: 413, openaiType: 'invalid_request_error', anthropicType: 'request_too_large', level: 'info' },
  upgrade_required: { status: 426, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', level: 'debug' },
  forbidden: { status: 403, openaiType: 'invalid_request_error', anthropicType: 'permission_error', level: 'info' },
  upstream_error: { status: 502, openaiType: 'api_error', anthropicType: 'api_error', level: 'warn' },
  upstream_rate_limited: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', level: 'warn' },
  no_healthy_upstream: { status: 503, openaiType: 'api_error', anthropicType: 'overloaded_error', level: 'warn' },
  upstream_timeout: { status: 504, openaiType: 'api_error', anthropicType: 'api_error', level: 'warn' },
  not_ready: { status: 503, openaiType: 'api_error', anthropicType: 'api_error', level: 'warn' },
  analyst_sql_busy: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', level: 'info' },
  client_closed_request: { status: 499, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', level: 'debug' },
  internal_error: { status: 500, openaiType: 'api_error', anthropicType: 'api_error', level: 'error' },
} as const satisfies Record<string, { status: number; openaiType: string; anthropicType: string; level: 'debug' | 'info' | 'warn' | 'error' }>;

export type ErrorCode = keyof typeof ERROR_CODES;
