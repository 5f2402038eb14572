import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectResponse } from '../../../../gateway/canonical/response.ts';
import { fromBedrockBody } from '../../../../gateway/providers/bedrock/from-wire-stream.ts';
import { startFakeUpstream, type FakeUpstream } from '../../../helpers/fake-upstreams/index.ts';
import { conformanceRequest, runThroughAdapter } from '../conformance.ts';

/** JSON-schema output on Bedrock Converse (no response format there): the tool-use pattern, or a warning. */
const SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
const FORMAT = { type: 'json_schema', name: 'answer', schema: SCHEMA, strict: true };

describe('bedrock: JSON-schema output', () => {
  let upstream: FakeUpstream;
  const config = () => ({ type: 'bedrock' as const, base_url: upstream.url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' });
  beforeAll(async () => {
    upstream = await startFakeUpstream('bedrock');
  });
  afterAll(async () => upstream.close());

  it('a forced output tool carries the schema, and its streamed input comes back as the answer text', async () => {
    upstream.push({ toolCalls: [{ name: 'gatehouse_json_output', arguments: { answer: '42' } }] });
    const result = await runThroughAdapter('bedrock', config(), conformanceRequest({ tools: [], toolChoice: undefined, responseFormat: FORMAT }), upstream);
    const wire = result.wireBody as { toolConfig: { tools: { toolSpec: { name: string; inputSchema: { json: unknown } } }[]; toolChoice: unknown } };
    expect(wire.toolConfig.tools[0]?.toolSpec).toMatchObject({ name: 'gatehouse_json_output', inputSchema: { json: SCHEMA } });
    expect(wire.toolConfig.toolChoice).toEqual({ tool: { name: 'gatehouse_json_output' } });
    const response = collectResponse(result.events);
    expect(response.output).toEqual([expect.objectContaining({ type: 'text', text: '{"answer":"42"}' })]);
    expect(response.finish?.unified).toBe('stop');
    expect(result.warnings).toContain('compatibility:response_format');
  });

  it('a non-streaming Converse body: the output tool input is the answer text, the turn a stop', () => {
    const body = { output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'gatehouse_json_output', input: { answer: '42' } } }] } }, stopReason: 'tool_use', usage: { inputTokens: 10, outputTokens: 5 } };
    const response = fromBedrockBody(body);
    expect(response.output).toEqual([expect.objectContaining({ type: 'text', text: '{"answer":"42"}' })]);
    expect(response.finish?.unified).toBe('stop');
  });

  it('with client tools in the request the format is not enforced, and the span says why', async () => {
    upstream.push({ text: '{"answer":"42"}' });
    const result = await runThroughAdapter('bedrock', config(), conformanceRequest({ responseFormat: FORMAT }), upstream);
    expect(JSON.stringify(result.wireBody)).not.toContain('gatehouse_json_output');
    expect(result.warnings).toContain('unsupported:response_format');
  });
});
