import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { WireEvent } from '../providers/provider-adapter.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/**
 * Decodes `application/vnd.amazon.eventstream` (Bedrock ConverseStream): frames are
 * length-prefixed; the codec checks both CRC32s. A trailing partial frame means the stream
 * was cut and is reported by the adapter as truncation (it simply yields nothing more).
 */
export async function* decodeAwsEventStream(chunks: AsyncIterable<Uint8Array>): AsyncIterable<WireEvent> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    buffer = concat(buffer, chunk);
    while (buffer.length >= 4) {
      const total = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0, false);
      if (total < 16) throw new Error('aws event stream: invalid frame length');
      if (buffer.length < total) break;
      const message = codec.decode(buffer.subarray(0, total));
      buffer = buffer.slice(total);
      const header = (name: string): string | undefined => {
        const value = message.headers[name];
        return value !== undefined && value.type === 'string' ? value.value : undefined;
      };
      const messageType = header(':message-type');
      const exception = messageType === 'exception' || messageType === 'error';
      yield {
        type: exception ? (header(':exception-type') ?? header(':error-code')) : header(':event-type'),
        data: message.body.length > 0 ? toUtf8(message.body) : (header(':error-message') ?? ''),
        exception,
      };
    }
  }
}

function concat(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length === 0) return right;
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}
