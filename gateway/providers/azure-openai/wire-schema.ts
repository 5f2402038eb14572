/**
 * Azure OpenAI speaks the OpenAI Responses wire format; only the URL (deployment path or the
 * v1 path, `api-version` query) and the `api-key` header differ.
 * @see https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses
 */
export type { ResponsesRequest, ResponsesUsage } from '../openai/wire-schema.ts';

/** Default `api-version` when the config gives none. */
export const AZURE_DEFAULT_API_VERSION = 'preview';
