import type { CanonicalEvent } from '../canonical/event.ts';
import { transportCause } from '../transport/classify-transport-error.ts';

/**
 * Ends every canonical stream with exactly one `finish` or `error`: a transport failure in the
 * middle becomes an `error` event, and a stream that stops without its terminal event becomes
 * a truncation error, never a normal finish.
 */
export async function* guardStream(provider: string, source: AsyncIterable<CanonicalEvent>): AsyncIterable<CanonicalEvent> {
  let ended = false;
  try {
    for await (const event of source) {
      if (ended) continue;
      yield event;
      if (event.type === 'finish' || event.type === 'error') ended = true;
    }
  } catch (error) {
    if (!ended) {
      ended = true;
      // Idle timeout (undici body timeout) or the whole-request deadline (AbortSignal.timeout).
      const timeout = typeof error === 'object' && error !== null && ((error as { code?: unknown }).code === 'UND_ERR_BODY_TIMEOUT' || (error as { name?: unknown }).name === 'TimeoutError');
      // The cause travels with the event: a log that says only "connection failed" cannot tell an
      // upstream reset from the client going away (an AbortError) or a timeout.
      const cause = transportCause(error, 'body');
      const words = `${cause.code}${cause.detail ? `: ${cause.detail}` : ''}`;
      yield {
        type: 'error',
        code: timeout ? 'upstream_timeout' : 'upstream_error',
        message: timeout ? `gatehouse: upstream ${provider} timed out mid-stream (${words})` : `gatehouse: upstream ${provider} connection failed mid-stream (${words})`,
        retryable: true,
        transport: cause,
      };
    }
    return;
  }
  if (!ended) yield { type: 'error', code: 'upstream_error', message: `gatehouse: upstream ${provider} stream ended before completion (truncated)`, retryable: true };
}
