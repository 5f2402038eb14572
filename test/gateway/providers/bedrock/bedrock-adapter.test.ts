import { describe, expect, it } from 'vitest';
import { prepareRequest } from '../../../../gateway/forward/prepare-request.ts';
import { bedrockAdapter } from '../../../../gateway/providers/bedrock/index.ts';
import { conformanceRequest } from '../conformance.ts';

describe('bedrock adapter', () => {
  it('addresses the regional endpoint, asks for the event stream and carries SigV4 credentials for the transport', () => {
    const outbound = bedrockAdapter.buildRequest(prepareRequest(conformanceRequest({ model: 'anthropic.claude-sonnet-4-5-v1:0' }), bedrockAdapter.capabilities).request, {
      providerName: 'b',
      provider: { type: 'bedrock', region: 'eu-central-1', access_key_id: 'AKID', secret_access_key: 's', session_token: 't' },
      requestId: 'r',
    });
    expect(outbound.url).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/anthropic.claude-sonnet-4-5-v1%3A0/converse-stream');
    expect(outbound.streamFormat).toBe('aws-eventstream');
    expect(outbound.aws).toEqual({ region: 'eu-central-1', service: 'bedrock', accessKeyId: 'AKID', secretAccessKey: 's', sessionToken: 't' });
  });

  it('classifies x-amzn-errortype without reading messages', () => {
    const error = bedrockAdapter.classifyError({ kind: 'http', status: 400, headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/' }, body: { message: 'bad input' } });
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, retryable: false, upstream: { status: 400, type: 'ValidationException' } });
    expect(bedrockAdapter.classifyError({ kind: 'http', status: 503, headers: { 'x-amzn-errortype': 'ServiceUnavailableException' }, body: {} })).toMatchObject({ code: 'no_healthy_upstream', retryable: true });
  });

  it('sends tool results with error status and reasoning with its Bedrock signature only', () => {
    const request = conformanceRequest({
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'reasoning', id: undefined, text: 'mine', summary: [], opaque: { family: 'bedrock', kind: 'signature', value: 'bsig' } },
            { type: 'reasoning', id: undefined, text: 'theirs', summary: [], opaque: { family: 'anthropic', kind: 'signature', value: 'asig' } },
            { type: 'tool-call', callId: 'call_1', name: 'exec_command', kind: 'function', input: '{"cmd":"x"}' },
          ],
        },
        { role: 'tool', parts: [{ type: 'tool-result', callId: 'call_1', name: undefined, kind: 'function', output: 'failed', isError: true }] },
      ],
    });
    const prepared = prepareRequest(request, bedrockAdapter.capabilities);
    const body = JSON.parse(bedrockAdapter.buildRequest(prepared.request, { providerName: 'b', provider: { type: 'bedrock' }, requestId: 'r' }).body) as { messages: { content: unknown[] }[] };
    expect(body.messages[1]!.content).toEqual([{ reasoningContent: { reasoningText: { text: 'mine', signature: 'bsig' } } }, { toolUse: { toolUseId: 'call_1', name: 'exec_command', input: { cmd: 'x' } } }]);
    expect(body.messages[2]!.content).toEqual([{ toolResult: { toolUseId: 'call_1', content: [{ text: 'failed' }], status: 'error' } }]);
    expect(prepared.warnings.map((item) => item.feature)).toContain('reasoning.encrypted_content');
  });
});
