import { renderErrorBody, type ErrorContext } from '../../errors/render-error.ts';
import type { GatewayError } from '../../errors/gateway-error.ts';

/** Anthropic-shaped error body: `{"type":"error","error":{"type","message"},"request_id"}`. @see ../../errors/render-error.ts */
export function renderAnthropicMessagesError(error: GatewayError, context: ErrorContext): { status: number; body: Record<string, unknown> } {
  return { status: error.status, body: renderErrorBody(error, 'anthropic-messages', context) };
}
