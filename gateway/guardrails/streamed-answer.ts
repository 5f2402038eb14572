import { createParser } from 'eventsource-parser';
import type { InboundProtocol } from '../forward/forward-types.ts';

/**
 * A streamed answer, as the client received it (the SSE bytes the gateway sent), folded back into the
 * items a non-streaming answer of the same protocol holds: Responses `output[]` (from `response.completed`),
 * Chat `choices[].message` (content and tool-call deltas joined), Anthropic `content[]` (blocks and their
 * deltas). What the guardrail hook judges after a stream ended.
 */

type Json = Record<string, any>;

function events(bytes: Buffer): Json[] {
  const parsed: Json[] = [];
  const parser = createParser({
    onEvent: (message) => {
      if (message.data === '[DONE]') return;
      try {
        parsed.push(JSON.parse(message.data) as Json);
      } catch {
        // Not JSON (a comment or a keep-alive): nothing to judge in it.
      }
    },
  });
  parser.feed(bytes.toString('utf8'));
  return parsed;
}

function responsesOutput(all: Json[]): unknown[] {
  const done = all.findLast((event) => event.type === 'response.completed' || event.type === 'response.incomplete');
  return Array.isArray(done?.response?.output) ? done.response.output : all.filter((event) => event.type === 'response.output_item.done').map((event) => event.item);
}

function chatMessages(all: Json[]): unknown[] {
  const messages: { role: string; content: string; tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: string } }[] }[] = [];
  for (const chunk of all) {
    for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
      const message = (messages[choice.index ?? 0] ??= { role: 'assistant', content: '' });
      const delta = choice.delta ?? {};
      if (typeof delta.content === 'string') message.content += delta.content;
      for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
        const calls = (message.tool_calls ??= []);
        const entry = (calls[call.index ?? calls.length] ??= { type: 'function', function: { name: '', arguments: '' } });
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.function.name += call.function.name;
        if (call.function?.arguments) entry.function.arguments += call.function.arguments;
      }
    }
  }
  return messages.filter(Boolean);
}

function anthropicContent(all: Json[]): unknown[] {
  const blocks: Json[] = [];
  const partialJson = new Map<number, string>();
  for (const event of all) {
    if (event.type === 'content_block_start') blocks[event.index] = { ...event.content_block };
    if (event.type !== 'content_block_delta' || !blocks[event.index]) continue;
    const block = blocks[event.index]!;
    const delta = event.delta ?? {};
    if (delta.type === 'text_delta') block.text = (block.text ?? '') + delta.text;
    else if (delta.type === 'thinking_delta') block.thinking = (block.thinking ?? '') + delta.thinking;
    else if (delta.type === 'input_json_delta') partialJson.set(event.index, (partialJson.get(event.index) ?? '') + delta.partial_json);
  }
  for (const [index, text] of partialJson) {
    try {
      blocks[index]!.input = JSON.parse(text);
    } catch {
      blocks[index]!.input = text;
    }
  }
  return blocks.filter(Boolean);
}

/** The answer's items, in the same shape `answerItems` reads from a non-streaming answer. */
export function streamedAnswer(inbound: InboundProtocol, bytes: Buffer): Record<string, unknown> {
  const all = events(bytes);
  if (inbound === 'openai-chat') return { choices: chatMessages(all).map((message, index) => ({ index, message })) };
  if (inbound === 'anthropic-messages') return { content: anthropicContent(all) };
  return { output: responsesOutput(all) };
}
