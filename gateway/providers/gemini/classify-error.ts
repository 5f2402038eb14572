import type { GatewayError } from '../../errors/gateway-error.ts';
import { classifyUpstreamFailure, readErrorFields } from '../classify-upstream-failure.ts';
import type { UpstreamFailure } from '../provider-adapter.ts';

/** `{"error":{"code":429,"message":…,"status":"RESOURCE_EXHAUSTED"}}` (body may be an array). */
export function classifyGeminiError(failure: UpstreamFailure): GatewayError {
  const body = Array.isArray(failure.body) ? failure.body[0] : failure.body;
  const fields = readErrorFields(body);
  const error = typeof body === 'object' && body !== null ? (body as { error?: { status?: unknown } }).error : undefined;
  return classifyUpstreamFailure('gemini', failure, { ...fields, type: typeof error?.status === 'string' ? error.status : fields.type });
}
