import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyUpstreamFailure, readErrorFields } from '../classify-upstream-failure.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

/** HTTP errors name their type in `x-amzn-errortype` (`ThrottlingException:http://…`). */
export function classifyBedrockError(failure: UpstreamFailure): GatewayError {
  const fields = readErrorFields(failure.body);
  const header = failure.headers?.['x-amzn-errortype'];
  const type = header !== undefined ? header.split(':')[0] : fields.type;
  return classifyUpstreamFailure('bedrock', failure, { ...fields, type, message: fields.message ?? (typeof failure.body === 'object' && failure.body !== null ? String((failure.body as { Message?: unknown }).Message ?? '') || undefined : undefined) });
}

/** In-stream exception types (lowerCamel) worth a retry elsewhere. */
export function isRetryableBedrockException(type: string | undefined): boolean {
  return type === 'throttlingException' || type === 'internalServerException' || type === 'serviceUnavailableException' || type === 'modelStreamErrorException';
}
