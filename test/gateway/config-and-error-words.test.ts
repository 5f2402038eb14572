import { describe, expect, it } from 'vitest';
import { renderErrorBody } from '../../gateway/errors/render-error.ts';
import { classifyUpstreamFailure, readErrorFields } from '../../gateway/providers/classify-upstream-failure.ts';
import { budgetExhaustedError, usd } from '../../gateway/state/budget-errors.ts';
import { DeploymentConfigSchema } from '../../shared/config/config-schema.ts';
import { ConfigError, parseWithSchema } from '../../shared/config/load-config.ts';

describe('config refuses an unknown openai-chat preset at start', () => {
  const config = (preset: string) => ({ providers: { local: { type: 'openai-chat', preset, base_url: 'http://127.0.0.1:8000/v1' } }, policy: 'policy.yaml' });

  it('names the bad preset and lists the known ones (was: accepted, then a 500 on every request)', () => {
    let thrown: unknown;
    try {
      parseWithSchema(DeploymentConfigSchema, config('vlm'), 'gatehouse.yaml', {});
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const issue = (thrown as ConfigError).issues.find((item) => item.path === 'providers.local.preset');
    expect(issue?.message).toBe('unknown preset "vlm"; known presets: openai, vllm, ollama, groq, together, fireworks, mistral, deepseek, openrouter, xai');
  });

  it('accepts every known preset', () => {
    for (const preset of ['vllm', 'ollama', 'mistral', 'xai']) expect(() => parseWithSchema(DeploymentConfigSchema, config(preset), 'gatehouse.yaml', {})).not.toThrow();
  });
});

describe("errors keep the upstream's own words", () => {
  const contextError = classifyUpstreamFailure('openai-chat', { kind: 'http', status: 400, body: undefined }, readErrorFields({ error: { message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } }));

  it('an upstream 400 reaches an OpenAI client with its code, param and type; the gateway code stays in gatehouse.code', () => {
    const body = renderErrorBody(contextError, 'openai-responses', { requestId: 'req_1', policyVersion: 3 }) as { error: Record<string, unknown> & { gatehouse: Record<string, unknown> } };
    expect(body.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
    expect(body.error.gatehouse).toMatchObject({ code: 'invalid_request', status: 400, upstream: { status: 400, code: 'context_length_exceeded', param: 'messages' } });
  });

  it('an Anthropic client gets the upstream code too, and a type only when its protocol knows it', () => {
    const gemini = classifyUpstreamFailure('gemini', { kind: 'http', status: 400, body: undefined }, { type: 'INVALID_ARGUMENT', message: 'bad schema' });
    const body = renderErrorBody(gemini, 'anthropic-messages', { requestId: 'req_2', policyVersion: 3 }) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
    const anthropic = renderErrorBody(contextError, 'anthropic-messages', { requestId: 'req_3', policyVersion: 3 }) as { error: Record<string, unknown> };
    expect(anthropic.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
  });

  it('where the gateway decided (rate limit, 5xx), the gateway code stays', () => {
    const limited = classifyUpstreamFailure('openai-chat', { kind: 'http', status: 429, body: undefined }, { code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect((renderErrorBody(limited, 'openai-chat', { requestId: 'r', policyVersion: 1 }) as { error: { code: string } }).error.code).toBe('upstream_rate_limited');
    const failed = classifyUpstreamFailure('openai-chat', { kind: 'http', status: 500, body: undefined }, { code: 'server_error' });
    expect((renderErrorBody(failed, 'openai-chat', { requestId: 'r', policyVersion: 1 }) as { error: { code: string } }).error.code).toBe('upstream_error');
  });
});

describe('money in budget messages has enough digits to be true', () => {
  it('formats cents from $0.10 and two significant digits below', () => {
    expect([0, 0.0002, 0.00015, 0.015, 0.02, 0.1, 1.25, 5].map(usd)).toEqual(['$0.00', '$0.0002', '$0.00015', '$0.015', '$0.02', '$0.10', '$1.25', '$5.00']);
  });

  it('a sub-cent budget reads "$0.0002 spent of $0.0001", not "$0.00 spent of $0.00"', () => {
    const resetsAt = new Date('2026-12-07T00:00:00Z');
    const error = budgetExhaustedError(
      { admitted: false, stage: 'pause', scope: { id: 'd', kind: 'developer', subject: 'dana', period: 'daily', limitUsd: 0.0001, resetsAt, timeZone: 'UTC' } as never, spendUsd: 0.0002, reservedUsd: 0, limitUsd: 0.0001, resetsAt, ratio: 2, crossed: [] },
      { costCenter: 'platform', pause: 1.1 },
    );
    expect(error.message).toContain('$0.0002 spent of $0.0001');
  });
});
