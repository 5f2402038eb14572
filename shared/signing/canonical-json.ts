/**
 * Canonical JSON in the spirit of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
 * whitespace, numbers and strings serialised the way ECMAScript's JSON.stringify does (which is
 * what JCS specifies for both). `undefined` members are dropped like JSON.stringify drops them.
 * Hashes and signatures are taken over this text, so two processes that hold the same value
 * always agree on its bytes.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
export function canonicalJson(value: unknown): string {
  const text = serialise(value, '');
  if (text === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return text;
}

function serialise(value: unknown, path: string): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path || '(root)'}`);
      return JSON.stringify(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      throw new TypeError(`canonicalJson: bigint at ${path || '(root)'}`);
    default:
      break;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, index) => serialise(item, `${path}[${index}]`) ?? 'null').join(',')}]`;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return serialise(withJson.toJSON(), path);
  const parts: string[] = [];
  // Default sort compares UTF-16 code units, exactly what RFC 8785 §3.2.3 asks for.
  for (const key of Object.keys(value as object).sort()) {
    const member = serialise((value as Record<string, unknown>)[key], `${path}.${key}`);
    if (member !== undefined) parts.push(`${JSON.stringify(key)}:${member}`);
  }
  return `{${parts.join(',')}}`;
}
