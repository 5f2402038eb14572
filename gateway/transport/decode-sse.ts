import type { Readable } from 'node:stream';
import type { WireEvent } from '../providers/provider-adapter.ts';

type Chunks = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * A Readable body iterated so that a consumer stopping early (an adapter returns after `[DONE]`)
 * does not destroy it with an AbortError: building that error and its stack trace cost more than
 * the rest of the frame. What is left is drained (`resume`) so the kept-alive connection returns
 * to its pool; an abort of the whole request still goes through the request's signal.
 */
async function* quietIterable(chunks: Chunks): AsyncIterable<Uint8Array | string> {
  const readable = chunks as Partial<Readable>;
  if (typeof readable.iterator !== 'function' || typeof readable.resume !== 'function') {
    yield* chunks as AsyncIterable<Uint8Array | string>;
    return;
  }
  try {
    yield* readable.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array | string>;
  } finally {
    if (!readable.readableEnded && !readable.destroyed) readable.resume();
  }
}

/**
 * Decodes a `text/event-stream` body into events. Handles `\n`, `\r\n` and `\r` line ends
 * (Gemini frames end with `\r\n\r\n`), multi-line `data:`, comments and a final frame without
 * a blank line. `[DONE]` is returned like any other data; adapters decide what it means.
 */
export async function* decodeSse(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): AsyncIterable<WireEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let eventType: string | undefined;
  let data: string[] = [];
  const flush = (): WireEvent | undefined => {
    if (data.length === 0) {
      eventType = undefined;
      return undefined;
    }
    const event: WireEvent = { type: eventType, data: data.join('\n') };
    eventType = undefined;
    data = [];
    return event;
  };
  const takeLine = (line: string): WireEvent | undefined => {
    if (line === '') return flush();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') eventType = value;
    return undefined;
  };
  for await (const chunk of quietIterable(chunks)) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let index = 0; index < buffer.length; index++) {
      const char = buffer.charCodeAt(index);
      if (char !== 10 && char !== 13) continue;
      // A lone `\r` at the very end may be the first half of `\r\n`: wait for more bytes.
      if (char === 13 && index === buffer.length - 1) break;
      const event = takeLine(buffer.slice(start, index));
      if (char === 13 && buffer.charCodeAt(index + 1) === 10) index++;
      start = index + 1;
      if (event !== undefined) yield event;
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer !== '') {
    const event = takeLine(buffer.replace(/\r$/, ''));
    if (event !== undefined) yield event;
  }
  const last = flush();
  if (last !== undefined) yield last;
}
