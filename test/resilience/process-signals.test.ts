import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild } from './gatehouse-child.ts';
import { sleep } from './helpers.ts';

const price = { input: 1, cached_input: 0.1, output: 4 };
const policy = {
  models: { slow: { provider: 'openai', upstream: 'slow', price }, fast: { provider: 'openai', upstream: 'fast', price } },
  cost_centers: { platform: { allowed_models: ['slow', 'fast'] } },
  keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
};

/** Opens the stopped child's data dir in this process (chDB: one data dir per process) and reads its spans. */
async function spansIn(dataDir: string, where: string, minimum: number) {
  const reader = await startTestGatehouse({ providers: {}, dataDir, policy });
  try {
    return await waitForRows<{ request_id: string; status_code: number; error_code: string; output_tokens: number }>(reader, `SELECT request_id, status_code, error_code, output_tokens FROM gatehouse.spans WHERE ${where}`, minimum, 10_000);
  } finally {
    await reader.stop({ keepData: true });
  }
}

describe('process signals on a real `gatehouse start`', () => {
  let upstream: FakeResponsesUpstream;
  const words = Array.from({ length: 20 }, (_, index) => `w${index}`).join(' ');

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream((body) => ({ output: [{ type: 'message', text: words }], usage: { input_tokens: 10, output_tokens: 20 }, ...(body.model === 'slow' ? { eventDelayMillis: 100 } : {}) }));
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it('SIGTERM while a slow stream is in flight: the stream completes, new requests are refused, the span is written, exit 0', async () => {
    const gatehouse = await startGatehouseChild({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
    try {
      const response = await request(`${gatehouse.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'drain-me' },
        body: JSON.stringify({ model: 'slow', input: 'take your time', stream: true }),
      });
      expect(response.statusCode).toBe(200);
      const requestId = String(response.headers['x-gatehouse-request-id']);
      const reading = (async () => {
        let text = '';
        for await (const chunk of response.body) text += (chunk as Buffer).toString('utf8');
        return text;
      })();
      await sleep(300); // a few events in: the stream is mid-flight
      const signalledAt = performance.now();
      gatehouse.child.kill('SIGTERM');
      await sleep(200);
      // While draining, a new request is not served (503, or the listener is already closed).
      const late = await request(`${gatehouse.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: 'fast', input: 'too late', stream: true }),
      }).then(
        async (answer) => ({ status: answer.statusCode, text: await answer.body.text() }),
        (error: Error) => ({ status: 0, text: error.message }),
      );
      expect(late.status === 503 || late.status === 0).toBe(true);
      const text = await reading;
      expect(text).toContain('event: response.completed');
      expect(text).toContain('w19');
      const exit = await gatehouse.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      // Not held open until drain_timeout_ms (30 s) by the client's idle keep-alive connection.
      expect(performance.now() - signalledAt).toBeLessThan(10_000);
      console.log(`[resilience] SIGTERM: in-flight stream finished and the process exited ${(performance.now() - signalledAt).toFixed(0)} ms after the signal`);
      const spans = await spansIn(gatehouse.dataDir, `request_id = '${requestId}'`, 1);
      expect(spans).toEqual([{ request_id: requestId, status_code: 200, error_code: '', output_tokens: 20 }]);
    } finally {
      await gatehouse.stop();
    }
  });

  it('kill -9 after the flush interval: every span of the finished requests is there after a restart', async () => {
    const gatehouse = await startGatehouseChild({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
    try {
      for (let index = 0; index < 20; index++) {
        const answer = await request(`${gatehouse.url}/v1/responses`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'killed' },
          body: JSON.stringify({ model: 'fast', input: `turn ${index}`, stream: true }),
        });
        expect(answer.statusCode).toBe(200);
        await answer.body.text();
      }
      await sleep(2_500); // > the writer's 1 s flush interval: nothing is left only in memory
      gatehouse.child.kill('SIGKILL');
      expect((await gatehouse.exited).signal).toBe('SIGKILL');
      const spans = await spansIn(gatehouse.dataDir, `session_id = 'killed'`, 20);
      expect(spans).toHaveLength(20);
    } finally {
      await gatehouse.stop();
    }
  });
});
