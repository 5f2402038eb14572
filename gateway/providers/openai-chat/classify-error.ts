import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyOpenAIError } from '../openai/classify-error.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

/** Compatible servers use OpenAI's error body (`{"error":{…}}`), some only a `detail` or plain text. */
export function classifyChatError(failure: UpstreamFailure): GatewayError {
  return classifyOpenAIError(failure, 'openai-chat');
}
