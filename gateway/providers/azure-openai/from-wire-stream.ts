import type { CanonicalEvent } from '../../canonical/event.ts';
import { fromResponsesStream } from '../openai/from-wire-stream.ts';
import type { WireEvent } from '../provider-adapter.ts';
import type { UnreadableEventHandler } from '../wire-json.ts';

export function fromAzureOpenAIStream(events: AsyncIterable<WireEvent>, onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return fromResponsesStream(events, 'azure-openai', onUnreadable);
}
