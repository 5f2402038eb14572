import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEvaluator } from '../../evaluator/start-evaluator.ts';
import { scenarioSessions } from './helpers/codex-sessions.ts';
import { RecordingSink, sleep, waitFor } from './helpers/recording-sink.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function fakeGateway(answer: (body: Record<string, unknown>, request: IncomingMessage) => { status: number; body: unknown }) {
  const requests: { body: Record<string, unknown>; authorization: string | undefined }[] = [];
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      requests.push({ body, authorization: request.headers.authorization });
      const reply = answer(body, request);
      response.writeHead(reply.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, requests };
}

const completion = (content: string) => ({ status: 200, body: { choices: [{ message: { role: 'assistant', content } }] } });

describe('llm_judge (optional, through the gateway)', () => {
  it('is off by default', async () => {
    const sink = new RecordingSink();
    const evaluator = await startEvaluator({ sink, sessionIdleSeconds: 0.2 });
    for (const record of scenarioSessions('nojudge').clean) evaluator.handleTurn(record);
    await waitFor(() => sink.scores().some((row) => row.scorer === 'task_completion'), 5000, 'session score');
    await evaluator.close();
    expect(sink.scores().some((row) => row.scorer === 'llm_judge')).toBe(false);
  });

  it('asks the gateway with the judge key and session signals only, and stores its grade', async () => {
    const gateway = await fakeGateway(() => completion('{"score":0.8,"reasons":["tests pass after the patch"]}'));
    const sink = new RecordingSink();
    const evaluator = await startEvaluator({ sink, sessionIdleSeconds: 0.2, llmJudge: { gatewayUrl: gateway.url, apiKey: 'vk_judge', model: 'gpt-5.1-mini' } });
    for (const record of scenarioSessions('judge').clean) evaluator.handleTurn(record);
    await waitFor(() => sink.scores().some((row) => row.scorer === 'llm_judge'), 5000, 'judge score');
    await evaluator.close();
    const row = sink.scores().find((candidate) => candidate.scorer === 'llm_judge');
    expect(row).toMatchObject({ level: 'session', value: 0.8, reasons: ['judged by gpt-5.1-mini', 'tests pass after the patch'] });
    expect(gateway.requests).toHaveLength(1);
    expect(gateway.requests[0]?.authorization).toBe('Bearer vk_judge');
    expect(gateway.requests[0]?.body.model).toBe('gpt-5.1-mini');
    const sent = JSON.stringify(gateway.requests[0]?.body);
    expect(sent).toContain('"runner\\":\\"npm-test\\"');
    expect(sent).not.toContain('new line');
  });

  it('a failing judge does not hold back the other session scores; the job retries', async () => {
    let calls = 0;
    const gateway = await fakeGateway(() => (++calls === 1 ? { status: 503, body: { error: { code: 'no_healthy_upstream' } } } : completion('{"score":1}')));
    const sink = new RecordingSink();
    const evaluator = await startEvaluator({ sink, sessionIdleSeconds: 0.2, llmJudge: { gatewayUrl: gateway.url, apiKey: 'vk_judge', model: 'judge' } });
    for (const record of scenarioSessions('judgefail').clean) evaluator.handleTurn(record);
    await waitFor(() => sink.scores().some((row) => row.scorer === 'llm_judge'), 10_000, 'judge score after retry');
    await sleep(100);
    expect(evaluator.metrics().retries).toBe(1);
    await evaluator.close();
    const sessionScorers = sink.scores().filter((row) => row.level === 'session').map((row) => row.scorer);
    expect(sessionScorers.filter((name) => name === 'task_completion').length).toBe(2);
    expect(sessionScorers.filter((name) => name === 'llm_judge')).toEqual(['llm_judge']);
  });
});

describe('evaluatorOptionsFromConfig', () => {
  it('turns the judge on only with enabled + model + a judge key, pointing at this gateway', async () => {
    const { DeploymentConfigSchema } = await import('../../shared/config/config-schema.ts');
    const { evaluatorOptionsFromConfig } = await import('../../evaluator/start-evaluator.ts');
    const sink = new RecordingSink();
    const base = DeploymentConfigSchema.parse({ server: { port: 9999 }, evaluator: { session_idle_seconds: 120, llm_judge: { enabled: true, model: 'gpt-5.1-mini' } } });
    expect(evaluatorOptionsFromConfig(base, sink, true, {}).llmJudge).toBeUndefined();
    expect(evaluatorOptionsFromConfig(base, sink, true, { GATEHOUSE_JUDGE_KEY: 'vk_judge' })).toMatchObject({
      sessionIdleSeconds: 120,
      redis: undefined,
      llmJudge: { gatewayUrl: 'http://127.0.0.1:9999', apiKey: 'vk_judge', model: 'gpt-5.1-mini' },
    });
    const distributed = DeploymentConfigSchema.parse({ redis: { url: 'redis://10.0.0.5:6379' } });
    expect(evaluatorOptionsFromConfig(distributed, sink, false, { GATEHOUSE_JUDGE_KEY: 'vk' })).toMatchObject({
      redis: { url: 'redis://10.0.0.5:6379', prefix: 'gatehouse:bull' },
      runWorkers: false,
      llmJudge: undefined,
    });
  });
});
