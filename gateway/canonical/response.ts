import type { CanonicalEvent } from './event.ts';
import type { FinishReason } from './finish-reason.ts';
import type { OpaqueData } from './item.ts';
import type { CanonicalUsage } from './usage.ts';

/** A whole answer, assembled from canonical events (non-streaming responses and tests). */
export interface CanonicalResponse {
  id: string | undefined;
  model: string | undefined;
  output: CanonicalOutput[];
  usage: CanonicalUsage | undefined;
  finish: FinishReason | undefined;
  error: Extract<CanonicalEvent, { type: 'error' }> | undefined;
}

export type CanonicalOutput =
  | { type: 'text'; id: string; text: string }
  | { type: 'reasoning'; id: string; text: string; opaque: OpaqueData | undefined }
  | { type: 'tool-call'; id: string; callId: string; name: string; kind: 'function' | 'custom'; namespace: string | undefined; input: string; opaque: OpaqueData | undefined };

/** Folds events into a response; parts stay in the order they started. */
export function collectResponse(events: Iterable<CanonicalEvent>): CanonicalResponse {
  const response: CanonicalResponse = { id: undefined, model: undefined, output: [], usage: undefined, finish: undefined, error: undefined };
  const open = new Map<string, CanonicalOutput>();
  for (const event of events) applyEvent(response, open, event);
  return response;
}

// Over 60 lines: one switch, one short case per canonical event type, on the per-event path.
export function applyEvent(response: CanonicalResponse, open: Map<string, CanonicalOutput>, event: CanonicalEvent): void {
  switch (event.type) {
    case 'response-metadata':
      response.id = event.id ?? response.id;
      response.model = event.model ?? response.model;
      return;
    case 'text-start': {
      const output: CanonicalOutput = { type: 'text', id: event.id, text: '' };
      open.set(event.id, output);
      response.output.push(output);
      return;
    }
    case 'reasoning-start': {
      const output: CanonicalOutput = { type: 'reasoning', id: event.id, text: '', opaque: undefined };
      open.set(event.id, output);
      response.output.push(output);
      return;
    }
    case 'tool-call-start': {
      const output: CanonicalOutput = { type: 'tool-call', id: event.id, callId: event.callId, name: event.name, kind: event.kind, namespace: event.namespace, input: '', opaque: undefined };
      open.set(event.id, output);
      response.output.push(output);
      return;
    }
    case 'text-delta':
    case 'reasoning-delta': {
      const output = open.get(event.id);
      if (output !== undefined && output.type !== 'tool-call') output.text += event.delta;
      return;
    }
    case 'tool-call-delta': {
      const output = open.get(event.id);
      if (output?.type === 'tool-call') output.input += event.delta;
      return;
    }
    case 'reasoning-end': {
      const output = open.get(event.id);
      if (output?.type === 'reasoning') output.opaque = event.opaque;
      return;
    }
    case 'tool-call-end': {
      const output = open.get(event.id);
      if (output?.type === 'tool-call') {
        output.input = event.input;
        output.opaque = event.opaque;
      }
      return;
    }
    case 'text-end':
      return;
    case 'usage':
      response.usage = event.usage;
      return;
    case 'finish':
      response.finish = event.reason;
      return;
    case 'error':
      response.error = event;
      return;
  }
}
