import type { ClientSink } from '../../gateway/forward/forward-types.ts';

/** A ClientSink that keeps everything in memory (forwarder unit tests). */
export interface MemorySink extends ClientSink {
  status: number | undefined;
  headers: Record<string, string> | undefined;
  chunks: string[];
  ended: boolean;
  text(): string;
  abort(): void;
}

export function memorySink(): MemorySink {
  const controller = new AbortController();
  const sink: MemorySink = {
    status: undefined,
    headers: undefined,
    chunks: [],
    ended: false,
    started: false,
    signal: controller.signal,
    start(status, headers) {
      if (sink.started) throw new Error('sink started twice');
      sink.status = status;
      sink.headers = headers;
      (sink as { started: boolean }).started = true;
    },
    write(chunk) {
      if (!sink.started) throw new Error('write before start');
      sink.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    },
    end(chunk) {
      if (chunk !== undefined) sink.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      sink.ended = true;
    },
    text: () => sink.chunks.join(''),
    abort: () => controller.abort(),
  };
  return sink;
}
