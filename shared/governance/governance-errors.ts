import { GatewayError } from '../../gateway/errors/gateway-error.ts';

/** A request the workflow cannot act on (400 `invalid_request`), naming the field when there is one. */
export function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', { message, ...(param ? { param } : {}) });
}

/** A refusal of the workflow's rules (403 `forbidden`): signature, scope, four-eyes, identity. */
export function forbidden(message: string): GatewayError {
  return new GatewayError('forbidden', { message });
}
