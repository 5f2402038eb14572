import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../e2e/helpers/gatehouse-process.ts';
import { testPolicy, TEST_KEY } from '../helpers/start-test-gatehouse.ts';

/**
 * Issue #14: kill -9 during a streaming burst lost 5 of 6 completed turns' spans, and the spend the
 * embedded ledger rebuilds from them. Span rows are journaled before the client's response ends,
 * so every turn the client saw complete is there after the restart, and so is its spend.
 */
const STREAMS = 40;
const KILL_AFTER = 15;
// gpt-5.5 at $1.25 in / $10 out per million: 1,000 in + 100 out = $0.00225 a turn.
const COST_PER_TURN = 0.00225;

describe('kill -9 during 40 concurrent streams', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-kill-streams-'));
  const dataDir = join(folder, 'data');
  let upstream: FakeResponsesUpstream;
  let gatehouse: GatehouseProcess | undefined;

  beforeAll(async () => {
    // Streams end at different times (5 to 200 ms between events), so the kill finds some done, some mid-stream.
    upstream = await startFakeResponsesUpstream((_body, index) => ({
      output: [{ type: 'message', text: `answer ${index} with a few words to stream` }],
      usage: { input_tokens: 1000, output_tokens: 100 },
      eventDelayMillis: 5 + (index % STREAMS) * 5,
    }));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const start = () =>
    startGatehouseProcess({
      folder,
      dataDir,
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: testPolicy(),
      timeoutMillis: 60_000,
    });

  it('every turn the client saw complete has its span and its spend after the restart', async () => {
    gatehouse = await start();
    const running = gatehouse;
    const completed: string[] = [];
    const outcomes: string[] = [];
    let killed = false;
    const exited = new Promise((resolve) => running.child.once('exit', resolve));
    const stream = async (index: number) => {
      try {
        const response = await request(`${running.url}/v1/responses`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': `kill-${index}` },
          body: JSON.stringify({ model: 'gpt-5.5', input: `turn ${index}`, stream: true }),
        });
        const text = await response.body.text();
        if (response.statusCode !== 200 || !text.includes('response.completed')) {
          outcomes.push(`${response.statusCode} ${text.slice(0, 200)}`);
          return;
        }
        if (killed) return; // ended after the kill was sent: not counted as seen by the client before it
        completed.push(String(response.headers['x-gatehouse-request-id']));
        // The barrier: the moment the 15th client sees its turn complete, the gateway dies.
        if (completed.length === KILL_AFTER) {
          killed = true;
          running.child.kill('SIGKILL');
        }
      } catch {
        // a stream the kill cut off
      }
    };
    await Promise.all(Array.from({ length: STREAMS }, (_unused, index) => stream(index)));
    if (!killed) running.child.kill('SIGKILL');
    await exited;
    expect(outcomes.filter((outcome) => !outcome.startsWith('200')), 'streams the gateway refused').toEqual([]);
    expect(completed.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(completed.length).toBeLessThan(STREAMS);

    gatehouse = await start();
    const list = completed.map((id) => `'${id}'`).join(',');
    const rows = await gatehouse.query<{ request_id: string; cost_usd: number }>(`SELECT request_id, cost_usd FROM gatehouse.spans WHERE request_id IN (${list})`);
    expect(rows.map((row) => row.request_id).sort()).toEqual([...completed].sort());
    expect(rows.reduce((sum, row) => sum + Number(row.cost_usd), 0)).toBeCloseTo(completed.length * COST_PER_TURN, 6);
    const [spend] = await gatehouse.query<{ spend: number }>(`SELECT sum(cost_usd) AS spend FROM gatehouse.spans WHERE cost_center = 'platform' AND toDate(ts) = today()`);
    expect(Number(spend?.spend)).toBeGreaterThanOrEqual(completed.length * COST_PER_TURN - 1e-9);
    // The embedded budget ledger is rebuilt at start from these rows' cost_usd (rebuildLedgerFromClickHouse).
  }, 180_000);
});
