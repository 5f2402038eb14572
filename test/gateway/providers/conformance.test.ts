import { PROVIDER_DEFINITIONS, type ProviderId } from '../../../gateway/providers/registry.ts';
import { describeConformance, type ConformanceOptions } from './conformance.ts';

// Each provider's battery settings, keyed by its definition's type: a new provider without an entry
// here is a type error, and the battery runs for exactly the registered definitions.
const BATTERY: Record<ProviderId, Omit<ConformanceOptions, 'id'>> = {
  openai: {
    config: (url) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk_test' }),
    reasoningOpaque: true,
    reportsCacheWrite: false,
    reportsReasoningTokens: true,
    streamsToolArguments: true,
    retryAfterHeader: true,
  },
  'azure-openai': {
    config: (url) => ({ type: 'azure-openai', base_url: url, api_key: 'sk_test', api_version: '2025-04-01-preview' }),
    reasoningOpaque: true,
    reportsCacheWrite: false,
    reportsReasoningTokens: true,
    streamsToolArguments: true,
    retryAfterHeader: true,
  },
  'openai-chat': {
    config: (url) => ({ type: 'openai-chat', preset: 'vllm', base_url: `${url}/v1`, api_key: 'sk_test' }),
    // Chat Completions has no signed reasoning: reasoning_content arrives as plain text.
    reasoningOpaque: false,
    reportsCacheWrite: false,
    reportsReasoningTokens: true,
    streamsToolArguments: true,
    retryAfterHeader: true,
  },
  anthropic: {
    config: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
    reasoningOpaque: true,
    reportsCacheWrite: true,
    // Anthropic does not report thinking tokens separately (they are in output_tokens).
    reportsReasoningTokens: false,
    streamsToolArguments: true,
    retryAfterHeader: true,
  },
  gemini: {
    config: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
    // Gemini attaches thought signatures to function-call parts only (checked in gemini.test.ts).
    reasoningOpaque: false,
    reportsCacheWrite: false,
    reportsReasoningTokens: true,
    streamsToolArguments: false,
    retryAfterHeader: false,
  },
  bedrock: {
    config: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
    reasoningOpaque: true,
    reportsCacheWrite: true,
    reportsReasoningTokens: false,
    streamsToolArguments: true,
    retryAfterHeader: false,
  },
};

for (const definition of PROVIDER_DEFINITIONS) describeConformance({ id: definition.type, ...BATTERY[definition.type] });
