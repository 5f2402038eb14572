import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { EXPENSIVE, codexFakeAnswer, loopPolicy, playCodexSession } from '../e2e/helpers/optimizer-loop-fixtures.ts';

/**
 * Embedded mode keeps its evaluation queue and session state in memory. A graceful restart (a
 * deploy) while a session waits out its idle window must not lose that session's scores: the state
 * is saved under data_dir on close and read back at the next start.
 */
describe('embedded evaluator across a graceful restart', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-eval-restart-')), 'data');
  let upstream: FakeResponsesUpstream | undefined;
  let gatehouse: TestGatehouse | undefined;
  const start = async () =>
    startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream?.url, api_key: 'sk_test' } },
      policy: loopPolicy({ timezone: 'UTC', keys: [{ key: 'vk_restart', developer: 'pat', cost_center: 'platform' }], approvers: [] }),
      dataDir,
      extraConfig: { evaluator: { session_idle_seconds: 3 }, optimizer: { interval_seconds: 86_400, guard_interval_seconds: 3_600 } },
    });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  const sessionScores = async (sessionId: string) => {
    const result = await gatehouse!.clickhouse.query({ query: `SELECT scorer, value FROM gatehouse.eval_scores FINAL WHERE session_id = {id:String} AND level = 'session' ORDER BY scorer`, query_params: { id: sessionId }, format: 'JSONEachRow' });
    return result.json<{ scorer: string; value: number }>();
  };

  it('scores a session whose idle window ran out while the gateway restarted', async () => {
    upstream = await startFakeResponsesUpstream((body) => codexFakeAnswer(body));
    gatehouse = await start();
    const turns = await playCodexSession(gatehouse.url, 'vk_restart', 'restart-session-1', EXPENSIVE);
    expect(turns.every((turn) => turn.status === 200)).toBe(true);
    // Stopped before the 3 s idle window ends: the session's scoring job is still delayed.
    await gatehouse.stop({ keepData: true });
    expect(existsSync(join(dataDir, 'evaluator-state.json'))).toBe(true);

    gatehouse = await start();
    expect(existsSync(join(dataDir, 'evaluator-state.json'))).toBe(false);
    let scores: { scorer: string; value: number }[] = [];
    for (let waited = 0; waited < 15_000 && scores.length === 0; waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await gatehouse.writer.flush();
      scores = await sessionScores('restart-session-1');
    }
    expect(scores.map((score) => score.scorer)).toContain('task_completion');
    expect(scores.find((score) => score.scorer === 'task_completion')?.value).toBe(1);
  }, 60_000);
});
