/**
 * JSON Merge Patch (RFC 7386): objects merge recursively, `null` removes a member, anything else
 * (arrays included) replaces. Returns a new value; the inputs are not modified.
 * @see https://www.rfc-editor.org/rfc/rfc7386
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
