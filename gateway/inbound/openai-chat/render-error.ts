import { renderErrorBody, type ErrorContext } from '../../errors/render-error.ts';
import type { GatewayError } from '../../errors/gateway-error.ts';

/** OpenAI-shaped error body (same as Responses). @see ../../errors/render-error.ts */
export function renderChatError(error: GatewayError, context: ErrorContext): { status: number; body: Record<string, unknown> } {
  return { status: error.status, body: renderErrorBody(error, 'openai-chat', context) };
}
