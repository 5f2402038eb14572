import canonicalize from 'canonicalize';

/**
 * Canonical JSON per RFC 8785 (JCS), by `canonicalize`, the reference implementation the RFC's authors keep:
 * object keys sorted by UTF-16 code units, no whitespace, numbers and strings as ECMAScript's JSON.stringify
 * writes them, `undefined` members dropped. Hashes and signatures are taken over this text, so any JCS
 * implementation — an outside verifier's included — reproduces a policy version's or an approval's digest.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (error) {
    // Only when refusing: say where the value cannot be JSON (the library names what, not where).
    throw new TypeError(`canonicalJson: ${unrepresentableAt(value, '') ?? (error as Error).message}`);
  }
  if (text === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return text;
}

function unrepresentableAt(value: unknown, path: string): string | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return `non-finite number at ${path || '(root)'}`;
  if (typeof value === 'bigint') return `bigint at ${path || '(root)'}`;
  if (value === null || typeof value !== 'object') return undefined;
  const entries = Array.isArray(value) ? value.map((item, index) => [`[${index}]`, item] as const) : Object.entries(value).map(([key, item]) => [`.${key}`, item] as const);
  for (const [step, item] of entries) {
    const found = unrepresentableAt(item, `${path}${step}`);
    if (found) return found;
  }
  return undefined;
}
