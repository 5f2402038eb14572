import type { PolicyDocument } from '../policy/policy-schema.ts';
import { sha256Hex } from '../signing/hash.ts';

/**
 * Replaces plaintext bootstrap virtual keys (`keys[].key`) with `key_sha256` before a document is
 * stored, signed or shown: policy versions are readable by analysts and live forever in
 * ClickHouse, and a key is a bearer secret. Authentication only needs the hash.
 */
export function hashKeySecrets(document: PolicyDocument): PolicyDocument {
  if (!document.keys.some((key) => key.key !== undefined)) return document;
  return {
    ...document,
    keys: document.keys.map(({ key, ...rest }) => (key === undefined ? rest : { ...rest, key_sha256: rest.key_sha256 ?? sha256Hex(key) })),
  };
}
