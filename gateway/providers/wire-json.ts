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

/** Parses one stream event's JSON data; undefined for non-JSON (comments, `[DONE]`). */
export function parseEventData(data: string): Record<string, unknown> | undefined {
  // `[DONE]` and comments are not JSON objects: skip them without paying for a thrown SyntaxError.
  if (data.trimStart().charCodeAt(0) !== 123) return undefined;
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Joins a configured base URL and a path without doubling `/v1`. */
export function joinUrl(base: string, path: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') && path.startsWith('/v1/') ? `${trimmed}${path.slice(3)}` : `${trimmed}${path}`;
}

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function asNumber(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
