/**
 * One view of a request's resent conversation, whatever the inbound protocol: the tool calls the
 * model made earlier, the results the client sent back, and where a human spoke.
 */

export type HistoryEntry =
  | { type: 'call'; callId: string; name: string; kind: 'function' | 'custom'; input: string }
  | { type: 'result'; callId: string; output: unknown; isError?: boolean }
  /** A message a person wrote (not tool results, not the client's own developer/system text). */
  | { type: 'user' }
  | { type: 'assistant' };

function stringOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}

/** Entries of one Responses `input` item (0 or 1). */
function responsesEntry(item: Record<string, unknown>): HistoryEntry | undefined {
  switch (item.type) {
    case 'function_call':
      return { type: 'call', callId: stringOf(item.call_id), name: stringOf(item.name), kind: 'function', input: stringOf(item.arguments) };
    case 'custom_tool_call':
      return { type: 'call', callId: stringOf(item.call_id), name: stringOf(item.name), kind: 'custom', input: stringOf(item.input) };
    case 'function_call_output':
    case 'custom_tool_call_output':
      return { type: 'result', callId: stringOf(item.call_id), output: item.output };
    case 'message':
    case undefined:
      if (item.role === 'user') return { type: 'user' };
      if (item.role === 'assistant') return { type: 'assistant' };
      return undefined;
    default:
      return undefined;
  }
}

/** Entries of one Chat Completions or Anthropic message, in order. */
function messageEntries(message: Record<string, unknown>): HistoryEntry[] {
  const role = message.role;
  if (role === 'tool') return [{ type: 'result', callId: stringOf(message.tool_call_id), output: message.content }];
  const entries: HistoryEntry[] = [];
  if (role === 'assistant') {
    entries.push({ type: 'assistant' });
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls as Record<string, unknown>[]) {
        if (call.type === 'custom' && call.custom && typeof call.custom === 'object') {
          const custom = call.custom as Record<string, unknown>;
          entries.push({ type: 'call', callId: stringOf(call.id), name: stringOf(custom.name), kind: 'custom', input: stringOf(custom.input) });
        } else {
          const fn = (call.function ?? {}) as Record<string, unknown>;
          entries.push({ type: 'call', callId: stringOf(call.id), name: stringOf(fn.name), kind: 'function', input: stringOf(fn.arguments) });
        }
      }
    }
  }
  if (Array.isArray(message.content)) {
    let human = false;
    for (const block of message.content as Record<string, unknown>[]) {
      if (block === null || typeof block !== 'object') continue;
      if (block.type === 'tool_use') {
        entries.push({ type: 'call', callId: stringOf(block.id), name: stringOf(block.name), kind: 'function', input: stringOf(block.input ?? {}) });
      } else if (block.type === 'tool_result') {
        entries.push({ type: 'result', callId: stringOf(block.tool_use_id), output: block.content, isError: block.is_error === true });
      } else if (role === 'user' && (block.type === 'text' || block.type === 'image')) {
        human = true;
      }
    }
    if (human) entries.push({ type: 'user' });
  } else if (role === 'user') {
    entries.push({ type: 'user' });
  }
  return entries;
}

/** The request's conversation: Responses `input`, or Chat/Anthropic `messages`. */
export function itemsOf(body: Record<string, unknown>): { items: readonly unknown[]; responses: boolean } {
  if (Array.isArray(body.input)) return { items: body.input, responses: true };
  if (Array.isArray(body.messages)) return { items: body.messages, responses: false };
  return { items: [], responses: true };
}

/** History entries, oldest first, of the items from index `from` on (all by default). */
export function readHistory(body: Record<string, unknown>, from = 0): HistoryEntry[] {
  const { items, responses } = itemsOf(body);
  const entries: HistoryEntry[] = [];
  for (let index = from; index < items.length; index += 1) {
    const item = items[index];
    if (item === null || typeof item !== 'object') continue;
    if (responses) {
      const entry = responsesEntry(item as Record<string, unknown>);
      if (entry) entries.push(entry);
    } else {
      entries.push(...messageEntries(item as Record<string, unknown>));
    }
  }
  return entries;
}

/**
 * Visits history entries newest first and stops as soon as `visit` returns false. Used on the
 * request path: it touches only the items it needs.
 */
export function visitHistoryBackwards(body: Record<string, unknown>, visit: (entry: HistoryEntry) => boolean): void {
  const { items, responses } = itemsOf(body);
  for (let index = items.length - 1; index >= 0; index -= 1) {
    const item = items[index];
    if (item === null || typeof item !== 'object') continue;
    if (responses) {
      const entry = responsesEntry(item as Record<string, unknown>);
      if (entry && !visit(entry)) return;
    } else {
      const entries = messageEntries(item as Record<string, unknown>);
      for (let inner = entries.length - 1; inner >= 0; inner -= 1) if (!visit(entries[inner] as HistoryEntry)) return;
    }
  }
}

/**
 * The calls with these ids among the items before index `end`, newest first; stops once all are
 * found (a result in a history's tail whose call came earlier).
 */
export function callsBefore(body: Record<string, unknown>, end: number, ids: ReadonlySet<string>): Map<string, Extract<HistoryEntry, { type: 'call' }>> {
  const found = new Map<string, Extract<HistoryEntry, { type: 'call' }>>();
  if (ids.size === 0) return found;
  const { items, responses } = itemsOf(body);
  for (let index = Math.min(end, items.length) - 1; index >= 0 && found.size < ids.size; index -= 1) {
    const item = items[index];
    if (item === null || typeof item !== 'object') continue;
    const entries = responses ? [responsesEntry(item as Record<string, unknown>)] : messageEntries(item as Record<string, unknown>);
    for (const entry of entries) if (entry?.type === 'call' && ids.has(entry.callId) && !found.has(entry.callId)) found.set(entry.callId, entry);
  }
  return found;
}
