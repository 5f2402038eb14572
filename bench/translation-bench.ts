// Translation cost, in process, no network: a real Codex request (fixture turn 3, ~45 KB) converted
// to canonical and to each provider's wire body, and a 20-delta upstream stream decoded, translated
// and rendered back as Responses SSE. Run alone: node bench/translation-bench.ts
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { forwardTranslatedParts } from './translation-bench-parts.ts';

export { forwardTranslatedParts };

/** Latency of one phase per request, microseconds. */
export interface TranslationPhaseStats {
  p50Micros: number;
  p99Micros: number;
  meanMicros: number;
}

export interface TranslationBenchResult {
  iterations: number;
  requestBytes: number;
  /** Per target provider id. */
  providers: Record<string, { request: TranslationPhaseStats; stream20: TranslationPhaseStats }>;
}

export interface TranslationBenchOptions {
  /** @defaultValue 300 */
  iterations?: number;
  /** @defaultValue all six adapters */
  providers?: string[];
}

const stats = (samples: number[]): TranslationPhaseStats => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50Micros: Math.round(at(0.5)), p99Micros: Math.round(at(0.99)), meanMicros: Math.round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)) };
};

/** Times request conversion and a 20-chunk stream back, per request, for each target provider. */
export async function runTranslationBench(options: TranslationBenchOptions = {}): Promise<TranslationBenchResult> {
  const iterations = options.iterations ?? 300;
  const raw = readFileSync(new URL('../test/fixtures/inbound/codex-cli/responses-request-turn3.json', import.meta.url), 'utf8');
  const body = (JSON.parse(raw) as { body: Record<string, unknown> }).body;
  const providers = options.providers ?? ['openai', 'azure-openai', 'openai-chat', 'anthropic', 'gemini', 'bedrock'];
  const result: TranslationBenchResult = { iterations, requestBytes: Buffer.byteLength(JSON.stringify(body)), providers: {} };
  for (const provider of providers) {
    const parts = forwardTranslatedParts(provider);
    const warm = Math.min(50, iterations);
    const requestSamples: number[] = [];
    const streamSamples: number[] = [];
    for (let index = 0; index < iterations + warm; index++) {
      const started = performance.now();
      parts.convertRequest(body);
      const converted = performance.now();
      await parts.translateStream();
      const ended = performance.now();
      if (index >= warm) {
        requestSamples.push((converted - started) * 1000);
        streamSamples.push((ended - converted) * 1000);
      }
    }
    result.providers[provider] = { request: stats(requestSamples), stream20: stats(streamSamples) };
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runTranslationBench();
  console.log(`translation, ${result.iterations} iterations, Codex request ${result.requestBytes} bytes (microseconds per request)`);
  for (const [provider, entry] of Object.entries(result.providers)) {
    console.log(`${provider.padEnd(13)} request p50 ${String(entry.request.p50Micros).padStart(6)} p99 ${String(entry.request.p99Micros).padStart(6)} | 20-chunk stream p50 ${String(entry.stream20.p50Micros).padStart(6)} p99 ${String(entry.stream20.p99Micros).padStart(6)}`);
  }
}
