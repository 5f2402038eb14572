/**
 * Returns a copy of a JSON value with object keys in sorted order (arrays keep their order), so
 * the same tools serialize to the same bytes on every request and upstream prompt caches hit.
 */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => sortKeysDeep(item)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeysDeep((value as Record<string, unknown>)[key]);
  return sorted as T;
}
