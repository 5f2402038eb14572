import { clampScore, type SessionScoreInput, type SessionScorer } from './scorer.ts';

/** Options of the optional LLM judge; off unless configured. It calls the gateway itself, so the judge's spend is governed and accounted like any other traffic. */
export interface LlmJudgeOptions {
  /** Base URL of a Gatehouse gateway, e.g. `http://127.0.0.1:8787`. */
  gatewayUrl: string;
  /** A virtual key for the judge (its own developer / cost center). */
  apiKey: string;
  /** Model the judge asks for. */
  model: string;
  /** @defaultValue 30000 */
  timeoutMillis?: number;
  /** Injected for tests. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

const RUBRIC =
  'You grade a coding agent session from its signals (no code is shown). Reply with JSON {"score": number between 0 and 1, "reasons": [short strings]}. ' +
  'Judge whether the agent completed the task efficiently: tool calls valid and successful, patches applied, tests passing after the last change, a final answer rather than an error or a loop.';

/** A content-free summary of the session: what the judge sees. */
export function summarizeSession(input: SessionScoreInput): Record<string, unknown> {
  return {
    turns: input.turns.map((turn) => ({ seq: turn.turnSeq, status: turn.statusCode, error: turn.errorCode, final_answer: turn.finalAnswer, calls: turn.callIds.length })),
    calls: input.calls.map((call) => {
      const outcome = input.outcomes.get(call.callId);
      return { tool: call.name, category: call.category, runner: call.runner, validity: call.validity, outcome: outcome?.status ?? 'none', exit_code: outcome?.exitCode ?? null };
    }),
  };
}

/** A session scorer that asks a model, through the gateway, to grade the session. */
export function createLlmJudgeScorer(options: LlmJudgeOptions): SessionScorer {
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  return {
    name: 'llm_judge',
    version: 1,
    appliesTo: 'session',
    async score(input) {
      const response = await fetchImplementation(`${options.gatewayUrl.replace(/\/$/, '')}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.apiKey}`, 'x-session-id': `judge-${input.sessionId}` },
        body: JSON.stringify({
          model: options.model,
          response_format: { type: 'json_object' },
          messages: [
            { role: 'system', content: RUBRIC },
            { role: 'user', content: JSON.stringify(summarizeSession(input)) },
          ],
        }),
        signal: AbortSignal.timeout(options.timeoutMillis ?? 30_000),
      });
      if (!response.ok) throw new Error(`judge request failed with HTTP ${response.status}`);
      const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
      const content = body.choices?.[0]?.message?.content ?? '';
      let verdict: { score?: unknown; reasons?: unknown };
      try {
        verdict = JSON.parse(content) as { score?: unknown; reasons?: unknown };
      } catch {
        throw new Error('judge answer is not JSON');
      }
      if (typeof verdict.score !== 'number') throw new Error('judge answer has no numeric score');
      const reasons = Array.isArray(verdict.reasons) ? verdict.reasons.filter((reason): reason is string => typeof reason === 'string').slice(0, 10) : [];
      return { value: clampScore(verdict.score), reasons: [`judged by ${options.model}`, ...reasons] };
    },
  };
}
