/**
 * Reads a client's JSON body without decoding the whole of it.
 *
 * Codex resends the whole conversation every turn (50–500 KB), and `JSON.parse(buffer.toString())`
 * of such a body costs ~20 µs per KB here: the decoded text is one string above V8's 128 KB
 * regular-object limit, so every request maps (and page-faults) a fresh large-object page, then
 * parses it all — for a request the gateway mostly forwards byte for byte. Instead one pass over the
 * bytes checks the structure (brackets, commas, colons, literals, numbers, nesting depth) and notes
 * where each top-level member and each item of a top-level array starts and ends; string contents
 * are skipped with `indexOf` (native), never decoded.
 *
 * The result is an ordinary object: small top-level members are parsed at once (`model`, `stream`,
 * `tools`…), while a large top-level array (`input`, `messages`) is a lazy array: a Proxy over a
 * real array (so `Array.isArray` holds) that parses an item the first time it is read. Reading the
 * model, the flags and the last items — what a turn's decisions need — costs what those bytes
 * cost; translation, guardrails or the evaluator that read everything pay for everything, item by
 * item (each item is small, so no large-object page either).
 *
 * What the pass does not check: the characters inside strings (control characters, escapes), and
 * inside an item of a top-level array (the history) anything but its strings and brackets (see
 * `skipItem`). A string or item the upstream refuses comes back as the upstream's 400; a lazy item
 * that does not parse throws `invalid_request` when it is read.
 */
import { GatewayError } from '../errors/gateway-error.ts';

/** Arrays with more bytes than this are parsed lazily, item by item. */
const LAZY_ARRAY_BYTES = 4 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Deepest nesting a client body may have (refused beyond with `invalid_request`). */
export const MAX_JSON_DEPTH = 256;

/** Where a top-level member's value sits in the body, and for arrays where each item sits. */
interface MemberSpan {
  start: number;
  end: number;
  /** Start and end offsets of each item, flattened, when the value is an array. */
  items: number[] | undefined;
}

const SPANS = Symbol('gatehouse.jsonBodySpans');

interface SpannedBody {
  [SPANS]?: { bytes: Buffer; members: Map<string, MemberSpan> };
}

/** A structural error: what was expected and where (byte offset). */
function malformed(message: string, position: number): GatewayError {
  return new GatewayError('invalid_request', { message: `gatehouse: malformed JSON body: ${message} at position ${position}` });
}

function skipWhitespace(bytes: Uint8Array, position: number): number {
  let at = position;
  for (;;) {
    const byte = bytes[at];
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return at;
    at++;
  }
}

/** Bytes of a string looked at one by one before handing the search to the native `indexOf`. */
const SHORT_STRING_BYTES = 48;

/**
 * Offset just past the string starting at `position` (its opening quote). Most strings of a request
 * are short (keys, ids, types): for those a loop here is several times cheaper than a call into
 * `Buffer.indexOf`, which pays off only on the long ones (tool outputs, code).
 */
function skipString(bytes: Buffer, position: number): number {
  const stop = Math.min(bytes.length, position + SHORT_STRING_BYTES);
  for (let at = position + 1; at < stop; at++) {
    const byte = bytes[at];
    if (byte === QUOTE) return at + 1;
    if (byte === BACKSLASH) return skipEscapedString(bytes, position);
  }
  return skipEscapedString(bytes, position);
}

function skipEscapedString(bytes: Buffer, position: number): number {
  let quote = position;
  for (;;) {
    quote = bytes.indexOf(QUOTE, quote + 1);
    if (quote === -1) throw malformed('unterminated string', position);
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** Offset just past the number at `position` (JSON grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?). */
function skipNumber(bytes: Uint8Array, position: number): number {
  let at = position;
  if (bytes[at] === 0x2d) at++;
  if (bytes[at] === 0x30) at++;
  else if (isDigit(bytes[at])) while (isDigit(bytes[at])) at++;
  else throw malformed('invalid number', position);
  if (bytes[at] === 0x2e) {
    at++;
    if (!isDigit(bytes[at])) throw malformed('invalid number', position);
    while (isDigit(bytes[at])) at++;
  }
  if (bytes[at] === 0x65 || bytes[at] === 0x45) {
    at++;
    if (bytes[at] === 0x2b || bytes[at] === 0x2d) at++;
    if (!isDigit(bytes[at])) throw malformed('invalid number', position);
    while (isDigit(bytes[at])) at++;
  }
  return at;
}

const LITERALS: [number, Buffer][] = [
  [0x74, Buffer.from('true')],
  [0x66, Buffer.from('false')],
  [0x6e, Buffer.from('null')],
];

/** Whether `bytes` holds `literal` at `position` (a byte loop: `Buffer.compare` is a native call per literal). */
function matchesAt(bytes: Buffer, literal: Buffer, position: number): boolean {
  for (let index = 0; index < literal.length; index++) if (bytes[position + index] !== literal[index]) return false;
  return true;
}

/** Offset just past the scalar (string, number, literal) at `position`. */
function skipScalar(bytes: Buffer, position: number): number {
  const byte = bytes[position];
  if (byte === QUOTE) return skipString(bytes, position);
  if (byte === 0x2d || isDigit(byte)) return skipNumber(bytes, position);
  for (const [first, literal] of LITERALS) {
    if (byte === first && matchesAt(bytes, literal, position)) return position + literal.length;
  }
  throw malformed(byte === undefined ? 'unexpected end' : `unexpected character ${JSON.stringify(String.fromCharCode(byte))}`, position);
}

/**
 * One pass over the body. Returns the top-level members (key → span) in order. Containers are
 * tracked on a stack of booleans (true = object); items of top-level arrays are recorded.
 */
function scanObject(bytes: Buffer, maxDepth: number): Map<string, MemberSpan> {
  const members = new Map<string, MemberSpan>();
  let at = skipWhitespace(bytes, 0);
  if (bytes[at] !== 0x7b) throw new GatewayError('invalid_request', { message: 'gatehouse: the JSON body must be an object' });
  const isObject: boolean[] = [true];
  at = skipWhitespace(bytes, at + 1);
  let member: MemberSpan | undefined;
  let expectKey = true;
  let itemStart = -1;
  // After `{`/`[` a closing bracket may follow at once; after `,` a value (or key) must.
  let allowClose = true;
  // One cursor for the whole pass: the helpers update it in place (an object returned per token was
  // most of what a 200 KB body allocated).
  const next: AfterValue = { at: 0, expectKey: false, allowClose: false };
  for (;;) {
    const inObject = isObject[isObject.length - 1] === true;
    const depth = isObject.length;
    if (allowClose && bytes[at] === (inObject ? 0x7d : 0x5d)) {
      at = closeContainer(bytes, at, isObject, member, itemStart);
      if (isObject.length === 0) break;
      afterValue(bytes, at, isObject, next);
      ({ at, expectKey, allowClose } = next);
      continue;
    }
    if (inObject && expectKey) {
      if (bytes[at] !== QUOTE) throw malformed(bytes[at] === undefined ? 'unexpected end' : 'expected a property name', at);
      const keyEnd = skipString(bytes, at);
      const key = depth === 1 ? (JSON.parse(bytes.toString('utf8', at, keyEnd)) as string) : '';
      at = skipWhitespace(bytes, keyEnd);
      if (bytes[at] !== 0x3a) throw malformed(bytes[at] === undefined ? 'unexpected end' : 'expected ":"', at);
      at = skipWhitespace(bytes, at + 1);
      if (depth === 1) {
        member = { start: at, end: at, items: undefined };
        members.set(key, member);
      }
    }
    if (depth === 2 && !inObject) {
      // An item of a top-level array (the history): its end found by brackets and strings alone.
      itemStart = at;
      at = skipItem(bytes, at, maxDepth);
      member?.items?.push(itemStart, at);
      afterValue(bytes, skipWhitespace(bytes, at), isObject, next);
      ({ at, expectKey, allowClose } = next);
      continue;
    }
    const byte = bytes[at];
    if (byte === 0x7b || byte === 0x5b) {
      if (depth + 1 > maxDepth) throw new GatewayError('invalid_request', { message: `gatehouse: the JSON body nests deeper than ${maxDepth} levels` });
      if (depth === 1 && byte === 0x5b && member) member.items = [];
      isObject.push(byte === 0x7b);
      at = skipWhitespace(bytes, at + 1);
      expectKey = byte === 0x7b;
      allowClose = true;
      continue;
    }
    at = skipScalar(bytes, at);
    if (depth === 1 && member) member.end = at;
    if (depth === 2 && !inObject) member?.items?.push(itemStart, at);
    afterValue(bytes, skipWhitespace(bytes, at), isObject, next);
    ({ at, expectKey, allowClose } = next);
  }
  if (skipWhitespace(bytes, at) !== bytes.length) throw malformed('unexpected data after the JSON value', at);
  return members;
}

/**
 * Offset just past the top-level array item starting at `position`. Only what finding its end needs
 * is checked: strings end, brackets pair up (`{` with `}`, `[` with `]`), nesting stays within
 * `maxDepth`. The grammar between (commas, colons, literals, numbers) is checked when the item is read
 * (`JSON.parse` of its bytes); an item forwarded unread is the upstream's to refuse, as a string's
 * contents are. A tight loop instead of the member-by-member state machine: the history is nearly all
 * of a Codex body.
 */
function skipItem(bytes: Buffer, position: number, maxDepth: number): number {
  const first = bytes[position];
  if (first !== 0x7b && first !== 0x5b) return skipScalar(bytes, position);
  // Expected closers of the open containers; the item itself sits at depth 3.
  const closers: number[] = [];
  let at = position;
  for (;;) {
    const byte = bytes[at];
    if (byte === QUOTE) {
      at = skipString(bytes, at);
      continue;
    }
    if (byte === 0x7b || byte === 0x5b) {
      if (closers.length + 3 > maxDepth) throw new GatewayError('invalid_request', { message: `gatehouse: the JSON body nests deeper than ${maxDepth} levels` });
      closers.push(byte + 2); // `{` + 2 is `}`, `[` + 2 is `]`
    } else if (byte === 0x7d || byte === 0x5d) {
      if (closers.pop() !== byte) throw malformed(`unexpected ${JSON.stringify(String.fromCharCode(byte))}`, at);
      if (closers.length === 0) return at + 1;
    } else if (byte === undefined) throw malformed('unexpected end', at);
    at++;
  }
}

/** Pops the container closing at `at`, recording top-level ends and array items; the offset after it. */
function closeContainer(bytes: Buffer, at: number, isObject: boolean[], member: MemberSpan | undefined, itemStart: number): number {
  isObject.pop();
  const end = at + 1;
  const depth = isObject.length;
  if (depth === 1 && member) member.end = end;
  if (depth === 2 && isObject[1] === false) member?.items?.push(itemStart, end);
  return isObject.length === 0 ? end : skipWhitespace(bytes, end);
}

interface AfterValue {
  at: number;
  expectKey: boolean;
  allowClose: boolean;
}

/** After a value: a comma (then a key in objects) or the container's end. */
function afterValue(bytes: Buffer, at: number, isObject: boolean[], next: AfterValue): void {
  const inObject = isObject[isObject.length - 1] === true;
  if (bytes[at] === 0x2c) {
    next.at = skipWhitespace(bytes, at + 1);
    next.expectKey = inObject;
    next.allowClose = false;
    return;
  }
  if (bytes[at] === (inObject ? 0x7d : 0x5d)) {
    next.at = at;
    next.expectKey = false;
    next.allowClose = true;
    return;
  }
  throw malformed(bytes[at] === undefined ? 'unexpected end' : `expected "," or "${inObject ? '}' : ']'}"`, at);
}

function parseSlice(bytes: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(bytes.toString('utf8', start, end));
  } catch (error) {
    throw new GatewayError('invalid_request', { message: `gatehouse: malformed JSON body: ${(error as Error).message} (in the value at position ${start})` });
  }
}

/**
 * An array whose items are parsed from `bytes` the first time each is read: a Proxy over a real
 * array of the right length (so `Array.isArray`, `length`, iteration, `slice`, spread and
 * `JSON.stringify` behave as on the parsed array).
 */
function lazyArray(bytes: Buffer, items: number[]): unknown[] {
  const count = items.length / 2;
  const target: unknown[] = new Array<unknown>(count).fill(undefined);
  const parsed = new Uint8Array(count);
  const indexOf = (property: string | symbol): number => {
    if (typeof property !== 'string' || property.length > 9) return -1;
    const index = Number(property);
    return Number.isInteger(index) && index >= 0 && index < count && String(index) === property ? index : -1;
  };
  const itemAt = (index: number): unknown => {
    if (parsed[index] === 0) {
      target[index] = parseSlice(bytes, items[2 * index] as number, items[2 * index + 1] as number);
      parsed[index] = 1;
    }
    return target[index];
  };
  return new Proxy(target, {
    get(array, property, receiver) {
      const index = indexOf(property);
      return index === -1 ? Reflect.get(array, property, receiver) : itemAt(index);
    },
    getOwnPropertyDescriptor(array, property) {
      const index = indexOf(property);
      if (index !== -1) itemAt(index);
      return Reflect.getOwnPropertyDescriptor(array, property);
    },
    set(array, property, value, receiver) {
      const index = indexOf(property);
      if (index !== -1) parsed[index] = 1;
      return Reflect.set(array, property, value, receiver);
    },
  });
}

/**
 * Parses a JSON object body as described above. Throws `invalid_request` naming the problem and
 * its byte offset for malformed JSON, a non-object body, or nesting deeper than `maxDepth`.
 */
export function readJsonBody(bytes: Buffer, maxDepth: number): Record<string, unknown> {
  const members = scanObject(bytes, maxDepth);
  const body: Record<string, unknown> & SpannedBody = {};
  for (const [key, span] of members) {
    const lazy = span.items !== undefined && span.end - span.start > LAZY_ARRAY_BYTES;
    const value = lazy ? lazyArray(bytes, span.items as number[]) : parseSlice(bytes, span.start, span.end);
    // A "__proto__" key is an own property in JSON.parse's result; an assignment would set the prototype.
    if (key === '__proto__') Object.defineProperty(body, key, { value, writable: true, enumerable: true, configurable: true });
    else body[key] = value;
  }
  Object.defineProperty(body, SPANS, { value: { bytes, members }, enumerable: false });
  return body;
}

/**
 * The body's bytes with one top-level member's value replaced (e.g. `model` rewritten to the
 * upstream's id) without re-serialising the rest; undefined when `body` was not read by
 * `readJsonBody` or has no such member.
 */
export function withTopLevelMember(body: Record<string, unknown>, key: string, value: unknown): Buffer | undefined {
  const spans = (body as SpannedBody)[SPANS];
  const span = spans?.members.get(key);
  if (spans === undefined || span === undefined) return undefined;
  return Buffer.concat([spans.bytes.subarray(0, span.start), Buffer.from(JSON.stringify(value)), spans.bytes.subarray(span.end)]);
}

/** Changes to a body read by `readJsonBody`: top-level members to set, and items of one top-level array to replace. */
export interface BodySplice {
  members?: Record<string, unknown>;
  items?: { key: string; replacements: ReadonlyMap<number, unknown> };
}

/**
 * The body's bytes with the given changes: a present member's value and a replaced item have their
 * bytes swapped for the new JSON, an absent member is inserted first in the object, and the rest (the
 * history Codex resends every turn) is copied as bytes, never re-serialised. Undefined when `body` was
 * not read by `readJsonBody`, or names an array item it did not record.
 */
export function spliceBody(body: Record<string, unknown>, splice: BodySplice): Buffer | undefined {
  const spans = (body as SpannedBody)[SPANS];
  if (spans === undefined) return undefined;
  const edits: { start: number; end: number; text: string }[] = [];
  const inserted: string[] = [];
  for (const [key, value] of Object.entries(splice.members ?? {})) {
    const span = spans.members.get(key);
    if (span) edits.push({ start: span.start, end: span.end, text: JSON.stringify(value) });
    else inserted.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  if (splice.items && splice.items.replacements.size > 0) {
    const items = spans.members.get(splice.items.key)?.items;
    if (items === undefined) return undefined;
    for (const [index, value] of splice.items.replacements) {
      if (2 * index + 1 >= items.length) return undefined;
      edits.push({ start: items[2 * index] as number, end: items[2 * index + 1] as number, text: JSON.stringify(value) });
    }
  }
  edits.sort((a, b) => a.start - b.start);
  const parts: Buffer[] = [];
  let cursor = 0;
  if (inserted.length > 0) {
    const open = spans.bytes.indexOf(0x7b); // the object's `{` (readJsonBody checked it is an object)
    parts.push(spans.bytes.subarray(0, open + 1), Buffer.from(inserted.join(',') + (spans.members.size > 0 ? ',' : '')));
    cursor = open + 1;
  }
  for (const edit of edits) {
    parts.push(spans.bytes.subarray(cursor, edit.start), Buffer.from(edit.text));
    cursor = edit.end;
  }
  parts.push(spans.bytes.subarray(cursor));
  return Buffer.concat(parts);
}

/** Top-level members set at once (see spliceBody). */
export function withTopLevelMembers(body: Record<string, unknown>, changes: Record<string, unknown>): Buffer | undefined {
  return spliceBody(body, { members: changes });
}

/** The exact bytes of item `index` of the top-level array `key`, or undefined when they were not recorded. */
export function itemBytes(body: Record<string, unknown>, key: string, index: number): Buffer | undefined {
  const spans = (body as SpannedBody)[SPANS];
  const items = spans?.members.get(key)?.items;
  if (spans === undefined || items === undefined || 2 * index + 1 >= items.length) return undefined;
  return spans.bytes.subarray(items[2 * index] as number, items[2 * index + 1] as number);
}

/** The exact bytes of the first `count` items of the top-level array `key` (from the first item's start to the last one's end). */
export function arrayPrefixBytes(body: Record<string, unknown>, key: string, count: number): Buffer | undefined {
  const spans = (body as SpannedBody)[SPANS];
  const items = spans?.members.get(key)?.items;
  if (spans === undefined || items === undefined || count < 1 || 2 * count > items.length) return undefined;
  return spans.bytes.subarray(items[0] as number, items[2 * count - 1] as number);
}
