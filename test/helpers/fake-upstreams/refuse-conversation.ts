import type { RenderTurn, TurnReply } from './fake-server.ts';
import type { RecordedRequest } from './scripted-turn.ts';

/** A turn of the request's conversation as the provider sees it: its role and its text parts. */
interface SeenTurn {
  role: string;
  texts: (string | undefined)[];
}

/** What a provider refuses in a conversation, in its own words. */
interface ConversationRefusals {
  userFirst?: string;
  alternation?: (role: string, index: number) => string;
  emptyText?: (turn: number, part: number) => string;
}

/** The first rule of `refusals` the conversation breaks, or undefined. */
function breach(turns: SeenTurn[], refusals: ConversationRefusals): string | undefined {
  if (refusals.userFirst !== undefined && turns.length > 0 && turns[0]?.role !== 'user') return refusals.userFirst;
  for (const [index, turn] of turns.entries()) {
    if (refusals.alternation !== undefined && index > 0 && turns[index - 1]?.role === turn.role) return refusals.alternation(turn.role, index);
    const empty = turn.texts.findIndex((text) => text !== undefined && text.trim() === '');
    if (refusals.emptyText !== undefined && empty >= 0) return refusals.emptyText(index, empty);
  }
  return undefined;
}

/**
 * Wraps a fake's renderer so it answers 400 for a conversation the real provider refuses (the
 * scripted turn is spent on the refusal, as one request is one turn).
 */
function refusing(render: RenderTurn, read: (body: Record<string, unknown>) => SeenTurn[], refusals: ConversationRefusals, reply: (message: string) => TurnReply): RenderTurn {
  return (turn, request: RecordedRequest) => {
    const message = request.body === undefined ? undefined : breach(read(request.body), refusals);
    return message === undefined ? render(turn, request) : reply(message);
  };
}

type Json = Record<string, unknown>;
const blocksOf = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : typeof value === 'string' ? [{ type: 'text', text: value }] : []);

/** Anthropic Messages: alternating roles starting with the user, no empty text blocks. */
export function refusingAnthropic(render: RenderTurn): RenderTurn {
  const read = (body: Json): SeenTurn[] =>
    blocksOf(body['messages']).map((message) => ({ role: String(message['role']), texts: blocksOf(message['content']).map((block) => (block['type'] === 'text' ? String(block['text']) : undefined)) }));
  return refusing(
    render,
    read,
    {
      userFirst: 'messages: first message must use the "user" role',
      alternation: (role) => `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`,
      emptyText: (turn, part) => `messages.${turn}.content.${part}.text: text content blocks must contain non-whitespace text`,
    },
    (message) => ({ status: 400, headers: { 'content-type': 'application/json' }, frames: [JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message }, request_id: 'req_fake' })] }),
  );
}

/** Bedrock Converse: a user message first, alternating roles, no blank text. */
export function refusingBedrock(render: RenderTurn): RenderTurn {
  const read = (body: Json): SeenTurn[] =>
    blocksOf(body['messages']).map((message) => ({ role: String(message['role']), texts: blocksOf(message['content']).map((block) => (typeof block['text'] === 'string' ? block['text'] : undefined)) }));
  return refusing(
    render,
    read,
    {
      userFirst: 'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
      alternation: () => 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      emptyText: (turn, part) => `The text field in the ContentBlock object at messages.${turn}.content.${part} is blank. Add text to the text field, and try again.`,
    },
    (message) => ({
      status: 400,
      headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/', 'x-amzn-requestid': 'fake' },
      frames: [JSON.stringify({ message })],
    }),
  );
}

/** Gemini: user and model turns alternate starting with the user, no empty text parameter. */
export function refusingGemini(render: RenderTurn): RenderTurn {
  const read = (body: Json): SeenTurn[] =>
    blocksOf(body['contents']).map((content) => ({ role: String(content['role'] ?? 'user'), texts: blocksOf(content['parts']).map((part) => (typeof part['text'] === 'string' && part['thoughtSignature'] === undefined ? part['text'] : undefined)) }));
  return refusing(
    render,
    read,
    {
      userFirst: 'Please ensure that multiturn requests alternate between user and model, starting with a user turn.',
      alternation: () => 'Please ensure that multiturn requests alternate between user and model.',
      emptyText: () => 'Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.',
    },
    (message) => ({ status: 400, headers: { 'content-type': 'application/json; charset=UTF-8' }, frames: [JSON.stringify({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } })] }),
  );
}
