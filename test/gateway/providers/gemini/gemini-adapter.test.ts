import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../../gateway/canonical/event.ts';
import type { TranslationWarning } from '../../../../gateway/canonical/warning.ts';
import { prepareRequest } from '../../../../gateway/forward/prepare-request.ts';
import { fromGeminiStream } from '../../../../gateway/providers/gemini/from-wire-stream.ts';
import { geminiAdapter } from '../../../../gateway/providers/gemini/index.ts';
import { adaptSchema } from '../../../../gateway/providers/gemini/to-wire-request.ts';
import type { WireEvent } from '../../../../gateway/providers/provider-adapter.ts';
import { conformanceRequest } from '../conformance.ts';

async function* wire(...chunks: unknown[]): AsyncIterable<WireEvent> {
  for (const chunk of chunks) yield { type: undefined, data: JSON.stringify(chunk) };
}

describe('gemini adapter', () => {
  it('adapts JSON-schema features Gemini rejects, with a warning naming each', () => {
    const warnings: TranslationWarning[] = [];
    const adapted = adaptSchema(
      {
        type: 'object',
        additionalProperties: false,
        $schema: 'http://json-schema.org/draft-07/schema#',
        properties: {
          mode: { type: ['string', 'null'], enum: ['a', 'b', null] },
          kind: { const: 'fixed' },
          count: { type: 'integer', format: 'uint32', enum: [1, 2] },
          choice: { oneOf: [{ type: 'string' }, { type: 'number' }] },
          list: { type: 'array', items: { type: 'object', additionalProperties: { type: 'string' } } },
        },
        required: ['mode'],
      },
      'tool:demo',
      warnings,
    );
    expect(adapted).toEqual({
      type: 'object',
      properties: {
        mode: { type: 'string', nullable: true, enum: ['a', 'b'] },
        kind: { enum: ['fixed'], type: 'string' },
        count: { type: 'integer', enum: ['1', '2'] },
        choice: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        list: { type: 'array', items: { type: 'object', properties: {} } },
      },
      required: ['mode'],
    });
    const text = warnings.map((item) => item.message).join('\n');
    expect(text).toContain('additionalProperties');
    expect(text).toContain('$schema');
    expect(text).toContain('format:uint32');
    expect(text).toContain('non-string enum values');
    expect(warnings.every((item) => item.feature === 'tool:demo' && item.type === 'compatibility')).toBe(true);
  });

  it('builds the streaming URL with x-goog-api-key and maps tool_choice / reasoning', () => {
    const prepared = prepareRequest(conformanceRequest({ toolChoice: 'required', reasoningEffort: 'low', maxOutputTokens: 500 }), geminiAdapter.capabilities);
    const outbound = geminiAdapter.buildRequest(prepared.request, { providerName: 'g', provider: { type: 'gemini', api_key: 'k' }, requestId: 'r' });
    expect(outbound.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/model-under-test:streamGenerateContent?alt=sse');
    expect(outbound.headers['x-goog-api-key']).toBe('k');
    const body = JSON.parse(outbound.body) as Record<string, unknown>;
    expect(body['toolConfig']).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(body['generationConfig']).toEqual({ maxOutputTokens: 500, thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } });
  });

  it('carries a thought signature out as opaque reasoning and puts it back on the next function call', async () => {
    const events: CanonicalEvent[] = [];
    for await (const event of fromGeminiStream(
      wire(
        { candidates: [{ content: { role: 'model', parts: [{ text: 'plan', thought: true }] } }], responseId: 'r1' },
        { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'exec_command', args: { cmd: 'ls' } }, thoughtSignature: 'SIG==' }, { functionCall: { name: 'exec_command', args: { cmd: 'pwd' } } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 3 } },
      ),
    ))
      events.push(event);
    expect(events.map((event) => event.type)).toEqual([
      'response-metadata', 'reasoning-start', 'reasoning-delta', 'reasoning-end', 'reasoning-start', 'reasoning-end',
      'tool-call-start', 'tool-call-delta', 'tool-call-end', 'tool-call-start', 'tool-call-delta', 'tool-call-end', 'usage', 'finish',
    ]);
    expect(events[5]).toMatchObject({ opaque: { family: 'gemini', kind: 'thought_signature', value: 'SIG==' } });
    expect(events[6]).toMatchObject({ callId: 'call_r1_0' });
    expect(events.at(-2)).toEqual({ type: 'usage', usage: { inputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 7, reasoningTokens: 3 } });
    expect(events.at(-1)).toMatchObject({ reason: { unified: 'tool-calls', raw: 'STOP' } });

    const history = conformanceRequest({
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'reasoning', id: undefined, text: '', summary: [], opaque: { family: 'gemini', kind: 'thought_signature', value: 'SIG==' } },
            { type: 'tool-call', callId: 'call_r1_0', name: 'exec_command', kind: 'function', input: '{"cmd":"ls"}' },
            { type: 'tool-call', callId: 'call_r1_1', name: 'exec_command', kind: 'function', input: '{"cmd":"pwd"}' },
          ],
        },
        { role: 'tool', parts: [{ type: 'tool-result', callId: 'call_r1_0', name: undefined, kind: 'function', output: 'a', isError: false }, { type: 'tool-result', callId: 'call_r1_1', name: undefined, kind: 'function', output: '/', isError: true }] },
      ],
    });
    const body = JSON.parse(geminiAdapter.buildRequest(prepareRequest(history, geminiAdapter.capabilities).request, { providerName: 'g', provider: { type: 'gemini' }, requestId: 'r' }).body) as { contents: unknown[] };
    expect(body.contents.slice(1)).toEqual([
      { role: 'model', parts: [{ functionCall: { name: 'exec_command', args: { cmd: 'ls' } }, thoughtSignature: 'SIG==' }, { functionCall: { name: 'exec_command', args: { cmd: 'pwd' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'exec_command', response: { output: 'a' } } }, { functionResponse: { name: 'exec_command', response: { error: '/' } } }] },
    ]);
  });

  it('treats a stream that closes without finishReason as truncated (the SDK would re-request it)', async () => {
    const events: CanonicalEvent[] = [];
    for await (const event of fromGeminiStream(wire({ candidates: [{ content: { role: 'model', parts: [{ text: 'hal' }] } }] }))) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
  });
});

describe('gemini call ids', () => {
  it("returns Gemini's own function call ids, and never sends ids it did not make", async () => {
    const events: CanonicalEvent[] = [];
    for await (const event of fromGeminiStream(wire({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: 'fc-77', name: 'exec_command', args: {} } }] }, finishReason: 'STOP' }] }))) events.push(event);
    expect(events.find((event) => event.type === 'tool-call-start')).toMatchObject({ callId: 'gm_fc-77' });
    const history = conformanceRequest({
      messages: [
        { role: 'assistant', parts: [{ type: 'tool-call', callId: 'gm_fc-77', name: 'exec_command', kind: 'function', input: '{}' }, { type: 'tool-call', callId: 'call_codex', name: 'exec_command', kind: 'function', input: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool-result', callId: 'gm_fc-77', name: undefined, kind: 'function', output: 'a', isError: false }, { type: 'tool-result', callId: 'call_codex', name: undefined, kind: 'function', output: 'b', isError: false }] },
      ],
    });
    const body = JSON.parse(geminiAdapter.buildRequest(prepareRequest(history, geminiAdapter.capabilities).request, { providerName: 'g', provider: { type: 'gemini' }, requestId: 'r' }).body) as { contents: { parts: Record<string, { id?: string }>[] }[] };
    // The history opens with the model's turn: Gemini needs a user turn first, which the normaliser puts there.
    expect(body.contents[0]!.parts).toEqual([{ text: '(continue the conversation)' }]);
    expect(body.contents[1]!.parts.map((part) => part['functionCall']?.id)).toEqual(['fc-77', undefined]);
    expect(body.contents[2]!.parts.map((part) => part['functionResponse']?.id)).toEqual(['fc-77', undefined]);
  });
});
