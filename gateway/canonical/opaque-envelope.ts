import type { OpaqueData, ProviderFamily } from './item.ts';

const PREFIX = 'gh1.';
const FAMILIES = new Set<ProviderFamily>(['openai', 'anthropic', 'gemini', 'bedrock', 'openai-chat']);

/**
 * Opaque data from a non-OpenAI provider (Anthropic thinking signature, Gemini thought signature)
 * travels through an OpenAI-shaped client inside `encrypted_content` as `gh1.<base64url JSON>`, so
 * it comes back on the next turn and can be returned to the provider that made it. OpenAI's own
 * encrypted content is passed as-is.
 */
export function encodeOpaque(opaque: OpaqueData, text?: string): string {
  if (opaque.family === 'openai' && opaque.kind === 'encrypted_content') return opaque.value;
  return PREFIX + Buffer.from(JSON.stringify({ f: opaque.family, k: opaque.kind, v: opaque.value, ...(text !== undefined ? { t: text } : {}) })).toString('base64url');
}

/** Reverse of {@link encodeOpaque}; anything not in our envelope is OpenAI's. */
export function decodeOpaque(value: string): { opaque: OpaqueData; text: string | undefined } {
  if (value.startsWith(PREFIX)) {
    try {
      const parsed = JSON.parse(Buffer.from(value.slice(PREFIX.length), 'base64url').toString('utf8')) as { f?: unknown; k?: unknown; v?: unknown; t?: unknown };
      if (typeof parsed.f === 'string' && FAMILIES.has(parsed.f as ProviderFamily) && typeof parsed.k === 'string' && typeof parsed.v === 'string') {
        return { opaque: { family: parsed.f as ProviderFamily, kind: parsed.k, value: parsed.v }, text: typeof parsed.t === 'string' ? parsed.t : undefined };
      }
    } catch {
      // Not ours after all.
    }
  }
  return { opaque: { family: 'openai', kind: 'encrypted_content', value }, text: undefined };
}
