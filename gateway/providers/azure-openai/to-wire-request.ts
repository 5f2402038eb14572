import type { CanonicalRequest } from '../../canonical/request.ts';
import { toResponsesBody } from '../openai/to-wire-request.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { AZURE_DEFAULT_API_VERSION } from './wire-schema.ts';

/**
 * `base_url` is either the resource (`https://x.openai.azure.com`, → `/openai/v1/responses`), or
 * a deployment URL (`…/openai/deployments/<name>`, → `…/responses`); `api-version` is a query
 * parameter and the key goes in the `api-key` header.
 */
export function toAzureOpenAIRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const { body, warnings } = toResponsesBody(request);
  const base = (context.provider.base_url ?? '').replace(/\/+$/, '');
  const path = /\/openai\/(deployments\/[^/]+|v1)$/.test(base) ? '/responses' : base.endsWith('/openai') ? '/v1/responses' : '/openai/v1/responses';
  const url = new URL(`${base}${path}`);
  url.searchParams.set('api-version', context.provider.api_version ?? AZURE_DEFAULT_API_VERSION);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json', ...(context.provider.headers ?? {}) };
  if (context.provider.api_key !== undefined) headers['api-key'] = context.provider.api_key;
  return { url: url.toString(), method: 'POST', headers, body: JSON.stringify(body), streamFormat: request.stream ? 'sse' : 'json', warnings };
}
