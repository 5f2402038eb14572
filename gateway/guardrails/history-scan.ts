import { createHash } from 'node:crypto';
import type { InboundProtocol } from '../forward/forward-types.ts';
import { redactText, scanTexts, type ExtraPattern, type SecretFinding } from './secret-scanner.ts';
import { arrayPrefixBytes, MAX_JSON_DEPTH, readJsonBody, spliceBody } from '../inbound/read-json-body.ts';

/**
 * Secrets in a conversation, found once per history item: Codex and Claude Code resend the whole
 * conversation every turn, so each session remembers how far it was scanned (and the fingerprint of
 * the last scanned item, so an edited or compacted history is scanned afresh) and the redacted form
 * of every item that held a secret (the client resends the original each turn).
 */

/** Keys whose strings are identifiers, opaque blobs or media, not text a secret is pasted into. */
const SKIP_KEYS = new Set(['type', 'id', 'call_id', 'tool_call_id', 'tool_use_id', 'role', 'status', 'encrypted_content', 'signature', 'model', 'image_url', 'data', 'file_data', 'cache_control']);

type Json = unknown;

/** Every string leaf of a JSON value worth scanning, in a fixed walk order. */
function collectTexts(value: Json, out: string[]): void {
  if (typeof value === 'string') {
    out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const element of value) collectTexts(element, out);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) if (!SKIP_KEYS.has(key)) collectTexts(child, out);
  }
}

/** A copy of `value` whose string leaves (same walk order as collectTexts) are replaced by `texts`. */
function replaceTexts(value: Json, texts: readonly string[], cursor: { next: number }): Json {
  if (typeof value === 'string') return texts[cursor.next++];
  if (Array.isArray(value)) return value.map((element) => replaceTexts(element, texts, cursor));
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) copy[key] = SKIP_KEYS.has(key) ? child : replaceTexts(child, texts, cursor);
    return copy;
  }
  return value;
}

export const fingerprint = (value: Json): string => createHash('sha1').update(typeof value === 'string' ? value : JSON.stringify(value)).digest('base64');

/**
 * Fingerprint of the first `count` items of the conversation list, all of them: an edit to any earlier
 * item (a secret pasted into the middle of a resent history) means the history is scanned afresh. A hash
 * of the client's own bytes when the body was read by readJsonBody (hashing, no parse or re-encoding),
 * else of the items' JSON.
 */
export function prefixPrint(body: Record<string, unknown>, key: string, list: readonly Json[], count: number): string {
  const bytes = Array.isArray(body[key]) ? arrayPrefixBytes(body, key, count) : undefined;
  return bytes ? createHash('sha1').update(bytes).digest('base64') : fingerprint(list.slice(0, count));
}

/**
 * Prints of growing prefixes of one list (asked for in increasing counts), from one running hash: the
 * remembered prefix and the whole list share their bytes, which are hashed once rather than once per
 * print (the copy of the hash state at the remembered count is that prefix's print). Each print equals
 * prefixPrint's for the same count.
 */
export class PrefixPrinter {
  private readonly hash = createHash('sha1');
  private hashed = 0;
  private readonly body: Record<string, unknown>;
  private readonly key: string;
  private readonly list: readonly Json[];

  constructor(body: Record<string, unknown>, key: string, list: readonly Json[]) {
    this.body = body;
    this.key = key;
    this.list = list;
  }

  print(count: number): string {
    const bytes = Array.isArray(this.body[this.key]) ? arrayPrefixBytes(this.body, this.key, count) : undefined;
    if (!bytes || bytes.length < this.hashed) return prefixPrint(this.body, this.key, this.list, count);
    this.hash.update(bytes.subarray(this.hashed));
    this.hashed = bytes.length;
    return this.hash.copy().digest('base64');
  }
}

/** What one item held: the rules that fired (with counts) and the item as it may be sent on. */
export interface FlaggedItem {
  redacted: Json;
  rules: Record<string, number>;
}

interface SessionScan {
  /** Items of the list scanned so far. */
  count: number;
  /** Fingerprint of items 0 … `count - 1`: the resent history still starts with exactly what was scanned. */
  prefixFingerprint: string;
  /** Fingerprint of the preamble (instructions / system prompt) and what it held. */
  preamble: { fingerprint: string; flagged?: FlaggedItem | undefined } | undefined;
  flagged: Map<number, FlaggedItem>;
}

/** Where a protocol keeps its conversation list and its preamble. */
export const SHAPES: Record<InboundProtocol, { list: string; preamble: string | undefined }> = {
  'openai-responses': { list: 'input', preamble: 'instructions' },
  'openai-chat': { list: 'messages', preamble: undefined },
  'anthropic-messages': { list: 'messages', preamble: 'system' },
};

export interface ConversationScan {
  /** Secrets in what this request would send, by rule. Empty when there are none. */
  rules: Record<string, number>;
  /** Secrets first seen in this request (already-seen ones were reported on an earlier turn). */
  newRules: Record<string, number>;
  /** Which items held them: `input[12]`, `instructions`. */
  locations: string[];
  /** The body with every secret replaced by its placeholder (the original body when there were none). */
  redactedBody: Record<string, unknown>;
  /** Its bytes, when the body was spliced from the client's bytes (else the caller serialises redactedBody). */
  redactedRaw: Buffer | undefined;
  /** Items scanned this turn (the rest came from the session's memory). */
  scannedItems: number;
}

function addRules(into: Record<string, number>, from: Record<string, number>): void {
  for (const [rule, count] of Object.entries(from)) into[rule] = (into[rule] ?? 0) + count;
}

async function scanItems(items: readonly Json[], extra: readonly ExtraPattern[]): Promise<(FlaggedItem | undefined)[]> {
  const texts: string[] = [];
  const ranges: [number, number][] = [];
  for (const item of items) {
    const start = texts.length;
    collectTexts(item, texts);
    ranges.push([start, texts.length]);
  }
  const findings = await scanTexts(texts, extra);
  if (findings.length === 0) return items.map(() => undefined);
  const byText = new Map<number, SecretFinding[]>();
  for (const finding of findings) byText.set(finding.text, [...(byText.get(finding.text) ?? []), finding]);
  return items.map((item, index) => {
    const [start, end] = ranges[index]!;
    const own = findings.filter((finding) => finding.text >= start && finding.text < end);
    if (own.length === 0) return undefined;
    const rules: Record<string, number> = {};
    for (const finding of own) rules[finding.rule] = (rules[finding.rule] ?? 0) + 1;
    const redactedTexts = texts.slice(start, end).map((text, offset) => {
      const inText = byText.get(start + offset);
      return inText ? redactText(text, inText) : text;
    });
    return { redacted: replaceTexts(item, redactedTexts, { next: 0 }), rules };
  });
}

/**
 * Per-process memory of how far each session's conversation was scanned (bounded, oldest out first).
 * The guardrail hook keeps its own memory of what it sent in one of these too (guardrail-hook.ts).
 */
export class HistoryScanCache<Scan = SessionScan> {
  private readonly sessions = new Map<string, Scan>();
  private readonly maxSessions: number;
  constructor(maxSessions = 20_000) {
    this.maxSessions = maxSessions;
  }

  get(sessionId: string): Scan | undefined {
    const scan = this.sessions.get(sessionId);
    if (scan) {
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, scan);
    }
    return scan;
  }

  set(sessionId: string, scan: Scan): void {
    this.sessions.delete(sessionId);
    this.sessions.set(sessionId, scan);
    if (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The part of the remembered scan still valid for this list, or undefined to scan from the start. */
function validPrefix(previous: SessionScan | undefined, print: (count: number) => string, length: number): SessionScan | undefined {
  if (!previous || previous.count === 0 || length < previous.count) return undefined;
  return print(previous.count) === previous.prefixFingerprint ? previous : undefined;
}

async function scanPreamble(preamble: Json, previous: SessionScan | undefined, extra: readonly ExtraPattern[]): Promise<SessionScan['preamble']> {
  if (preamble === undefined) return undefined;
  const print = fingerprint(preamble);
  if (previous?.preamble?.fingerprint === print) return previous.preamble;
  const [flagged] = await scanItems([preamble], extra);
  return { fingerprint: print, flagged };
}

/**
 * Scans what `body` would send upstream for secrets, scanning only the items this session has not
 * sent before, and returns the findings and a redacted body. The body is never modified.
 */
/**
 * `memoryKey` names what a scan may be remembered under — the session within one cost center and policy
 * version (other patterns, another scan) — or is undefined for a request with no session of its own.
 */
export async function scanConversation(cache: HistoryScanCache, memoryKey: string | undefined, inbound: InboundProtocol, body: Record<string, unknown>, extra: readonly ExtraPattern[]): Promise<ConversationScan> {
  const shape = SHAPES[inbound];
  const rawList = body[shape.list];
  // A Responses `input` may be a plain string: a one-item conversation.
  const list: Json[] = Array.isArray(rawList) ? rawList : rawList === undefined ? [] : [rawList];
  const previous = memoryKey !== undefined ? cache.get(memoryKey) : undefined;
  const printer = new PrefixPrinter(body, shape.list, list);
  const print = (count: number) => printer.print(count);
  const prefix = validPrefix(previous, print, list.length);
  const preamble = await scanPreamble(shape.preamble ? body[shape.preamble] : undefined, previous, extra);
  const start = prefix?.count ?? 0;
  const fresh = await scanItems(list.slice(start), extra);
  const flagged = new Map(prefix?.flagged ?? []);
  const newRules: Record<string, number> = {};
  fresh.forEach((item, offset) => {
    if (!item) return;
    flagged.set(start + offset, item);
    addRules(newRules, item.rules);
  });
  if (preamble?.flagged && preamble !== previous?.preamble) addRules(newRules, preamble.flagged.rules);
  if (memoryKey !== undefined) cache.set(memoryKey, { count: list.length, prefixFingerprint: list.length > 0 ? print(list.length) : '', preamble, flagged });

  const rules: Record<string, number> = {};
  const locations: string[] = [];
  if (preamble?.flagged && shape.preamble) {
    addRules(rules, preamble.flagged.rules);
    locations.push(shape.preamble);
  }
  for (const [index, item] of [...flagged].sort(([a], [b]) => a - b)) {
    addRules(rules, item.rules);
    locations.push(`${shape.list}[${index}]`);
  }
  const redacted = locations.length > 0 ? redactBody(body, shape, rawList, flagged, preamble?.flagged) : { body, raw: undefined };
  return { rules, newRules, locations, redactedBody: redacted.body, redactedRaw: redacted.raw, scannedItems: list.length - start };
}

/**
 * The body with the flagged items and preamble replaced by their redacted forms. A body read by
 * readJsonBody is spliced at the byte level (the rest of the history is neither parsed nor re-encoded)
 * and read again, so it stays lazy; any other body is rebuilt as objects.
 */
function redactBody(
  body: Record<string, unknown>,
  shape: { list: string; preamble: string | undefined },
  rawList: unknown,
  flagged: ReadonlyMap<number, FlaggedItem>,
  preamble: FlaggedItem | undefined,
): { body: Record<string, unknown>; raw: Buffer | undefined } {
  const members: Record<string, unknown> = preamble && shape.preamble ? { [shape.preamble]: preamble.redacted } : {};
  const replacements = new Map([...flagged].map(([index, item]) => [index, item.redacted]));
  if (!Array.isArray(rawList) && flagged.size > 0) members[shape.list] = flagged.get(0)?.redacted;
  const raw = spliceBody(body, { members, ...(Array.isArray(rawList) ? { items: { key: shape.list, replacements } } : {}) });
  if (raw) return { body: readJsonBody(raw, MAX_JSON_DEPTH), raw };
  const copy: Record<string, unknown> = { ...body, ...members };
  if (Array.isArray(rawList) && flagged.size > 0) {
    const list = [...rawList];
    for (const [index, value] of replacements) list[index] = value;
    copy[shape.list] = list;
  }
  return { body: copy, raw: undefined };
}
