import { describe, expect, it } from 'vitest';
import { runTranslationBench } from '../../bench/translation-bench.ts';

describe('translation micro-benchmark', () => {
  it('times request conversion and a 20-chunk stream for every adapter', async () => {
    const result = await runTranslationBench({ iterations: 5 });
    expect(result.requestBytes).toBeGreaterThan(30_000);
    expect(Object.keys(result.providers)).toEqual(['openai', 'azure-openai', 'openai-chat', 'anthropic', 'gemini', 'bedrock']);
    for (const entry of Object.values(result.providers)) {
      expect(entry.request.p50Micros).toBeGreaterThan(0);
      expect(entry.stream20.p50Micros).toBeGreaterThan(0);
    }
  });
});
