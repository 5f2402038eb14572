/**
 * One scripted upstream answer. A fake upstream pops one turn per request, in order, and renders
 * it in its provider's exact wire format (streaming or not, as the request asks).
 */
export interface ScriptedTurn {
  /** Assistant text, streamed in `chunkSize` pieces. */
  text?: string;
  /** Thinking / reasoning summary, with the provider's opaque signature (encrypted content, thought signature). */
  reasoning?: { text: string; signature?: string };
  /** Function calls (parallel when more than one). `arguments` may be an object or JSON text. */
  toolCalls?: ScriptedToolCall[];
  /** Freeform custom tool calls: native on OpenAI Responses; elsewhere a function call with `{"input": …}`. */
  customToolCalls?: { name: string; input: string; id?: string }[];
  usage?: ScriptedUsage;
  /** `length` makes the answer end as cut by max tokens. */
  finish?: 'stop' | 'length';
  /** Answer with an HTTP error instead (before any byte of a stream). */
  error?: { status: number; type?: string; code?: string; message?: string; retryAfter?: string };
  /** After the first output, send the provider's in-band error event. */
  midStreamError?: { type?: string; message?: string };
  /** Destroy the socket after this many frames (connection dies mid-stream). */
  dropAfterFrames?: number;
  /** End the stream cleanly but without the provider's terminal event/finish reason. */
  truncate?: boolean;
  /** Characters per text/arguments delta. @defaultValue 4 */
  chunkSize?: number;
  /** Pause between frames. @defaultValue 0 */
  frameDelayMillis?: number;
}

export interface ScriptedToolCall {
  name: string;
  arguments: string | Record<string, unknown>;
  id?: string;
}

/** In OpenAI's convention: `input` includes `cached` and `cacheWrite`. */
export interface ScriptedUsage {
  input?: number;
  cached?: number;
  cacheWrite?: number;
  output?: number;
  reasoning?: number;
}

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when not JSON). */
  body: Record<string, unknown> | undefined;
  rawBody: string;
  /** Client socket port: equal ports mean a kept-alive connection was reused. */
  remotePort: number | undefined;
}

export function chunks(text: string, size = 4): string[] {
  const out: string[] = [];
  for (let index = 0; index < text.length; index += size) out.push(text.slice(index, index + size));
  return out;
}

export function argumentsText(call: ScriptedToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

export function usageOf(turn: ScriptedTurn): Required<ScriptedUsage> {
  return { input: 100, cached: 0, cacheWrite: 0, output: 20, reasoning: 0, ...turn.usage };
}

/** Custom tool calls as the function calls a non-OpenAI model would make. */
export function functionCallsOf(turn: ScriptedTurn): ScriptedToolCall[] {
  return [...(turn.toolCalls ?? []), ...(turn.customToolCalls ?? []).map((call) => ({ name: call.name, arguments: { input: call.input }, ...(call.id !== undefined ? { id: call.id } : {}) }))];
}
