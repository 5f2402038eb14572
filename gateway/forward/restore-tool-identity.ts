import type { CanonicalEvent } from '../canonical/event.ts';
import type { ToolIdentity } from './prepare-request.ts';

/**
 * Gives upstream tool calls back the identity the client declared: un-flattens namespace names
 * and turns calls of custom tools (sent upstream as `{"input": "..."}` functions) back into
 * `custom` calls with their raw input, decoding the `input` string incrementally so deltas keep
 * flowing as they arrive.
 */
export function restoreToolIdentity(events: AsyncIterable<CanonicalEvent>, identities: Map<string, ToolIdentity>): AsyncIterable<CanonicalEvent> {
  // Nothing to restore: the events as they are, without one more async generator stage per event.
  return identities.size === 0 ? events : restoring(events, identities);
}

async function* restoring(events: AsyncIterable<CanonicalEvent>, identities: Map<string, ToolIdentity>): AsyncIterable<CanonicalEvent> {
  const decoders = new Map<string, InputStringDecoder>();
  for await (const event of events) {
    if (event.type === 'tool-call-start') {
      const identity = identities.get(event.name);
      if (identity === undefined) {
        yield event;
        continue;
      }
      if (identity.kind === 'custom' && event.kind === 'function') decoders.set(event.id, new InputStringDecoder());
      yield { ...event, name: identity.name, namespace: identity.namespace, kind: identity.kind };
    } else if (event.type === 'tool-call-delta' && decoders.has(event.id)) {
      const text = decoders.get(event.id)!.push(event.delta);
      if (text !== '') yield { type: 'tool-call-delta', id: event.id, delta: text };
    } else if (event.type === 'tool-call-end' && decoders.has(event.id)) {
      const decoder = decoders.get(event.id)!;
      decoders.delete(event.id);
      const input = customInputFromArguments(event.input);
      const rest = input.startsWith(decoder.emitted) ? input.slice(decoder.emitted.length) : '';
      if (rest !== '') yield { type: 'tool-call-delta', id: event.id, delta: rest };
      yield { ...event, input };
    } else yield event;
  }
}

/** `{"input":"…"}` → the raw string; anything else is passed on as the model wrote it. */
export function customInputFromArguments(argumentsText: string): string {
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (typeof parsed === 'string') return parsed;
    if (typeof parsed === 'object' && parsed !== null) {
      const input = (parsed as Record<string, unknown>)['input'];
      if (typeof input === 'string') return input;
      const values = Object.values(parsed);
      if (values.length === 1 && typeof values[0] === 'string') return values[0];
    }
  } catch {
    // Not JSON: the model wrote the raw input itself.
  }
  return argumentsText;
}

/**
 * Streams the value of a leading `"input"` string out of JSON arguments as they arrive. Falls
 * back to emitting nothing (the end event then carries the whole input) for any other shape.
 */
class InputStringDecoder {
  emitted = '';
  private buffer = '';
  private position = -1;
  private done = false;

  push(delta: string): string {
    if (this.done) return '';
    this.buffer += delta;
    if (this.position < 0) {
      const match = /^\s*\{\s*"input"\s*:\s*"/.exec(this.buffer);
      if (match === null) {
        if (!/^\s*(\{\s*("(i(n(p(u(t("\s*(:\s*)?)?)?)?)?)?)?)?)?$/.test(this.buffer)) this.done = true;
        return '';
      }
      this.position = match[0].length;
    }
    let out = '';
    while (this.position < this.buffer.length) {
      const char = this.buffer[this.position]!;
      if (char === '"') {
        this.done = true;
        break;
      }
      if (char !== '\\') {
        out += char;
        this.position++;
        continue;
      }
      const next = this.buffer[this.position + 1];
      if (next === undefined) break;
      if (next === 'u') {
        const hex = this.buffer.slice(this.position + 2, this.position + 6);
        if (hex.length < 4) break;
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.position += 6;
        continue;
      }
      out += ESCAPES[next] ?? next;
      this.position += 2;
    }
    this.emitted += out;
    return out;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '"': '"', '\\': '\\', '/': '/' };
