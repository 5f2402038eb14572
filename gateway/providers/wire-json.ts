import { z } from 'zod';
import { warning, type TranslationWarning } from '../canonical/warning.ts';

/** Parses tool arguments; returns `{}` plus `false` when the model wrote invalid JSON. */
export function parseArguments(text: string): { value: Record<string, unknown>; valid: boolean } {
  if (text.trim() === '') return { value: {}, valid: true };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { value: parsed as Record<string, unknown>, valid: true };
  } catch {
    // fall through
  }
  return { value: {}, valid: false };
}

/** Told about a stream event no adapter can read, so it ends on the span instead of vanishing. */
export type UnreadableEventHandler = (warning: TranslationWarning) => void;

/**
 * Parses one stream event's JSON data; undefined for `[DONE]` and for data that is not a JSON object,
 * the latter reported through `onUnreadable` (a `translation_warnings` entry on the turn's span).
 */
export function parseEventData(data: string, onUnreadable?: UnreadableEventHandler): Record<string, unknown> | undefined {
  // `[DONE]` is not a JSON object: skip it without paying for a thrown SyntaxError.
  const trimmed = data.trimStart();
  if (trimmed.charCodeAt(0) !== 123) {
    if (trimmed !== '' && trimmed.trimEnd() !== '[DONE]') reportUnreadable(data, 'not a JSON object', onUnreadable);
    return undefined;
  }
  try {
    return JSON.parse(data) as Record<string, unknown>;
  } catch (error) {
    reportUnreadable(data, (error as Error).message, onUnreadable);
    return undefined;
  }
}

/**
 * Reads one parsed event with its lenient schema (unknown fields pass, fields a provider may omit
 * are optional, leaf values of the wrong type read as absent). An event whose schema still fails —
 * what the event is for is missing or of the wrong type — is reported through `onUnreadable` and
 * skipped: the rest of the stream goes on. safeParse, so a bad event costs no thrown error.
 */
export function readWireEvent<T>(schema: z.ZodType<T>, data: Record<string, unknown>, rawData: string, onUnreadable: UnreadableEventHandler | undefined): T | undefined {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
  const type = typeof data['type'] === 'string' ? `${data['type']} ` : '';
  reportUnreadable(rawData, `${type}${issues.join('; ')}`, onUnreadable);
  return undefined;
}

function reportUnreadable(data: string, reason: string, onUnreadable: UnreadableEventHandler | undefined): void {
  const excerpt = data.length > 80 ? `${data.slice(0, 80)}…` : data;
  onUnreadable?.(warning('unsupported', 'upstream.stream_event', `unreadable upstream stream event skipped (${reason}): ${excerpt}`));
}

/** Joins a configured base URL and a path without doubling `/v1`. */
export function joinUrl(base: string, path: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') && path.startsWith('/v1/') ? `${trimmed}${path.slice(3)}` : `${trimmed}${path}`;
}

/**
 * A field read as a record whatever it holds (not an object: `{}`), for payloads passed on as they
 * are (usage counts). Half the cost of z.record, which checks every key.
 */
export const lenientRecord = z.unknown().transform((value) => asRecord(value));

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function asNumber(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
