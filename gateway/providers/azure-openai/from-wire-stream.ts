import type { CanonicalEvent } from '../../canonical/event.ts';
import { fromResponsesStream } from '../openai/from-wire-stream.ts';
import type { WireEvent } from '../provider-adapter.ts';

export function fromAzureOpenAIStream(events: AsyncIterable<WireEvent>): AsyncIterable<CanonicalEvent> {
  return fromResponsesStream(events, 'azure-openai');
}
