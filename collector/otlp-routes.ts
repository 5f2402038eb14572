import { gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as ProtobufCodec from './otlp/decode-otlp-traces.ts';
import { otlpToRows } from './otlp/otlp-to-rows.ts';
import type { OtlpTraceRequest } from './otlp/otlp-types.ts';

/** Where decoded spans go: the shared BatchWriter (or anything with its `write`/`stats`). */
export interface OtlpSpanWriter {
  write(table: string, rows: Record<string, unknown>[]): void;
  stats?(): { droppedRows: number };
}

export interface OtlpRoutesOptions {
  writer: OtlpSpanWriter;
  /** Unqualified table the rows are written to. @defaultValue otel_spans */
  table?: string;
  /** When set, senders must present `Authorization: Bearer <token>`; unset = open (keep the port private). */
  bearerToken?: string;
  /** Largest accepted body, after decompression. @defaultValue 16777216 (16 MiB) */
  bodyLimitBytes?: number;
}

const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf'];
/** gRPC status codes used in OTLP/HTTP error bodies. */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_UNAVAILABLE = 14;

function isProtobuf(request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return PROTOBUF_TYPES.includes(type);
}

function decompress(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  switch ((encoding ?? 'identity').toLowerCase()) {
    case 'identity':
      return body;
    case 'gzip':
      return gunzipSync(body, { maxOutputLength: limit });
    case 'deflate':
      return inflateSync(body, { maxOutputLength: limit });
    default:
      throw Object.assign(new Error(`unsupported content-encoding "${encoding}" (use gzip, deflate or none)`), { statusCode: 415 });
  }
}

/** The protobuf codec (protobufjs), loaded by the first protobuf request: JSON-only intakes never carry it. */
let protobufCodec: Promise<typeof ProtobufCodec> | undefined;
const loadProtobufCodec = () => (protobufCodec ??= import('./otlp/decode-otlp-traces.ts'));

/** Sends an error in the request's own encoding: google.rpc.Status as protobuf or JSON. */
async function sendError(request: FastifyRequest, reply: FastifyReply, status: number, grpcCode: number, message: string) {
  if (isProtobuf(request)) return reply.code(status).type('application/x-protobuf').send(Buffer.from((await loadProtobufCodec()).encodeProtobufStatus(grpcCode, message)));
  return reply.code(status).type('application/json').send({ code: grpcCode, message });
}

/**
 * OTLP/HTTP trace intake: `POST /v1/traces` with `application/json` or `application/x-protobuf`
 * (optionally gzip/deflate), written to `gatehouse.otel_spans` through the writer. Answers with an
 * ExportTraceServiceResponse (partial success for spans without valid ids), 400 for undecodable
 * bodies and 503 + Retry-After when the writer's queue is full so exporters retry.
 * Register unprefixed: `app.register(otlpRoutes, { writer })`. Encapsulated: its body parsers
 * apply to this route only.
 * @see https://opentelemetry.io/docs/specs/otlp/#otlphttp
 */
export async function otlpRoutes(app: FastifyInstance, options: OtlpRoutesOptions): Promise<void> {
  const table = options.table ?? 'otel_spans';
  const limit = options.bodyLimitBytes ?? 16 * 1024 * 1024;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', ...PROTOBUF_TYPES], { parseAs: 'buffer', bodyLimit: limit }, (request, body, done) => {
    try {
      done(null, decompress(body as Buffer, request.headers['content-encoding'] as string | undefined, limit));
    } catch (error) {
      const failure = error as Error & { statusCode?: number };
      failure.statusCode ??= 400;
      done(failure, undefined);
    }
  });

  app.post('/v1/traces', async (request, reply) => {
    if (options.bearerToken !== undefined && request.headers.authorization !== `Bearer ${options.bearerToken}`) {
      return sendError(request, reply, 401, GRPC_UNAUTHENTICATED, 'missing or wrong bearer token for the OTLP intake');
    }
    const body = request.body as Buffer;
    const protobufBody = isProtobuf(request);
    const codec = protobufBody ? await loadProtobufCodec() : undefined;
    let decoded: OtlpTraceRequest;
    try {
      decoded = codec ? codec.decodeProtobufTraceRequest(body) : (JSON.parse(body.toString('utf8') || '{}') as OtlpTraceRequest);
    } catch (error) {
      return sendError(request, reply, 400, GRPC_INVALID_ARGUMENT, `cannot decode ${protobufBody ? 'protobuf' : 'JSON'} ExportTraceServiceRequest: ${(error as Error).message}`);
    }
    let mapped;
    try {
      mapped = otlpToRows(decoded);
    } catch (error) {
      return sendError(request, reply, 400, GRPC_INVALID_ARGUMENT, (error as Error).message);
    }
    const droppedBefore = options.writer.stats?.().droppedRows ?? 0;
    options.writer.write(table, mapped.rows as unknown as Record<string, unknown>[]);
    if ((options.writer.stats?.().droppedRows ?? 0) > droppedBefore) {
      reply.header('retry-after', '5');
      return sendError(request, reply, 503, GRPC_UNAVAILABLE, 'span queue is full; retry later');
    }
    const errorMessage = mapped.errors.join('; ');
    if (protobufBody) {
      return reply.type('application/x-protobuf').send(Buffer.from(codec!.encodeProtobufTraceResponse(mapped.rejectedSpans, errorMessage)));
    }
    return reply
      .type('application/json')
      .send(mapped.rejectedSpans > 0 ? { partialSuccess: { rejectedSpans: String(mapped.rejectedSpans), errorMessage } } : {});
  });
}
