import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { OtlpLink, OtlpSpan, OtlpTraceRequest } from './otlp-types.ts';

const PROTO_FILE = fileURLToPath(new URL('./trace-service.proto', import.meta.url));

interface TraceMessages {
  request: protobuf.Type;
  response: protobuf.Type;
  status: protobuf.Type;
}

let messages: TraceMessages | undefined;

/** Loads the OTLP message definitions once (protobufjs parses the .proto beside this file). */
function traceMessages(): TraceMessages {
  if (!messages) {
    const root = protobuf.loadSync(PROTO_FILE);
    messages = {
      request: root.lookupType('opentelemetry.proto.trace.v1.ExportTraceServiceRequest'),
      response: root.lookupType('opentelemetry.proto.trace.v1.ExportTraceServiceResponse'),
      status: root.lookupType('opentelemetry.proto.trace.v1.RpcStatus'),
    };
  }
  return messages;
}

function base64ToHex(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('hex');
}

function idsToHex<T extends OtlpSpan | OtlpLink>(item: T): T {
  item.traceId = base64ToHex(item.traceId);
  item.spanId = base64ToHex(item.spanId);
  if ('parentSpanId' in item) item.parentSpanId = base64ToHex(item.parentSpanId);
  return item;
}

/**
 * Decodes an `application/x-protobuf` ExportTraceServiceRequest into the OTLP/JSON shape (ids as hex,
 * 64-bit integers as decimal strings, enums as numbers), so one mapper serves both encodings.
 * Throws on bytes that are not a valid message.
 */
export function decodeProtobufTraceRequest(body: Uint8Array): OtlpTraceRequest {
  const { request } = traceMessages();
  const message = request.decode(body);
  const object = request.toObject(message, { longs: String, enums: Number, bytes: String, defaults: false }) as OtlpTraceRequest;
  for (const resourceSpans of object.resourceSpans ?? []) {
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        idsToHex(span);
        for (const link of span.links ?? []) idsToHex(link);
      }
    }
  }
  return object;
}

/** Encodes an ExportTraceServiceResponse; an empty message (all accepted) is zero bytes. */
export function encodeProtobufTraceResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const { response } = traceMessages();
  const payload = rejectedSpans > 0 || errorMessage ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return response.encode(response.fromObject(payload)).finish();
}

/** Encodes a google.rpc.Status for an OTLP/HTTP error response body. */
export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  const { status } = traceMessages();
  return status.encode(status.fromObject({ code, message })).finish();
}
