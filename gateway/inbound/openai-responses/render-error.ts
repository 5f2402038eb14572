import { renderErrorBody, type ErrorContext } from '../../errors/render-error.ts';
import type { GatewayError } from '../../errors/gateway-error.ts';

/**
 * OpenAI-shaped error body: `{"error":{"message","type","code","param","request_id","policy_version","gatehouse":{…}}}`.
 * The body shape lives in ../../errors/render-error.ts (shared with the error-handler plugin).
 */
export function renderResponsesError(error: GatewayError, context: ErrorContext): { status: number; body: Record<string, unknown> } {
  return { status: error.status, body: renderErrorBody(error, 'openai-responses', context) };
}
