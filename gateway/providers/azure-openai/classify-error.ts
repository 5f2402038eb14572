import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyOpenAIError } from '../openai/classify-error.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

export function classifyAzureOpenAIError(failure: UpstreamFailure): GatewayError {
  return classifyOpenAIError(failure, 'azure-openai');
}
