import type { CanonicalEvent } from '../canonical/event.ts';

/** What a renderer needs to know about the request it answers. */
export interface RenderContext {
  /** Gateway request id; response ids are derived from it. */
  requestId: string;
  /** Public name of the model that served the answer (OpenAI and Anthropic name the serving model too). */
  model: string;
  /** Unix seconds. */
  createdAt: number;
  /** The parsed inbound body (echo fields such as `tools`, `reasoning`, `stream_options`). */
  body: Record<string, unknown>;
}

/** Canonical events → the inbound protocol's SSE text, one event at a time. */
export interface StreamRenderer {
  readonly contentType: string;
  /** SSE frames for this event; '' when the protocol has nothing to say. */
  render(event: CanonicalEvent): string;
}

export function sseFrame(event: string | undefined, data: unknown): string {
  return `${event !== undefined ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
