import { describe, expect, it } from 'vitest';
import { prepareRequest } from '../../../../gateway/forward/prepare-request.ts';
import { azureOpenAIAdapter } from '../../../../gateway/providers/azure-openai/index.ts';
import { conformanceRequest } from '../conformance.ts';

const url = (base: string, apiVersion?: string) =>
  azureOpenAIAdapter.buildRequest(prepareRequest(conformanceRequest(), azureOpenAIAdapter.capabilities).request, { providerName: 'a', provider: { type: 'azure-openai', base_url: base, api_key: 'k', ...(apiVersion !== undefined ? { api_version: apiVersion } : {}) }, requestId: 'r' });

describe('azure-openai adapter', () => {
  it('targets the deployment or v1 Responses path with api-version and the api-key header', () => {
    expect(url('https://acme.openai.azure.com', '2025-04-01-preview').url).toBe('https://acme.openai.azure.com/openai/v1/responses?api-version=2025-04-01-preview');
    expect(url('https://acme.openai.azure.com/openai/deployments/gpt5-prod/', '2025-04-01-preview').url).toBe('https://acme.openai.azure.com/openai/deployments/gpt5-prod/responses?api-version=2025-04-01-preview');
    expect(url('https://acme.openai.azure.com/openai').url).toBe('https://acme.openai.azure.com/openai/v1/responses?api-version=preview');
    const outbound = url('https://acme.openai.azure.com');
    expect(outbound.headers['api-key']).toBe('k');
    expect(outbound.headers['authorization']).toBeUndefined();
  });

  it('keeps custom tools native and drops hosted tools Azure lacks', () => {
    const prepared = prepareRequest(conformanceRequest(), azureOpenAIAdapter.capabilities);
    const body = JSON.parse(azureOpenAIAdapter.buildRequest(prepared.request, { providerName: 'a', provider: { type: 'azure-openai', base_url: 'https://x' }, requestId: 'r' }).body) as { tools: { type: string; name?: string }[] };
    expect(body.tools.map((tool) => tool.type)).toEqual(['function', 'custom']);
    expect(prepared.warnings.map((item) => item.feature)).toEqual(['tool:web_search']);
  });
});
