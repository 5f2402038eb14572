import { createHash, hash, timingSafeEqual } from 'node:crypto';

/** One-shot `crypto.hash`: no Hash object per call, ~3× faster than createHash for short inputs (every request hashes its key). */
export function sha256Hex(text: string | Uint8Array): string {
  return hash('sha256', text, 'hex');
}

/** Constant-time equality of two secrets: compares their SHA-256 digests so lengths leak nothing. */
export function secretsEqual(candidate: string, expectedSha256Hex: string): boolean {
  const candidateDigest = createHash('sha256').update(candidate).digest();
  const expected = Buffer.from(expectedSha256Hex, 'hex');
  return expected.length === candidateDigest.length && timingSafeEqual(candidateDigest, expected);
}
