/**
 * Signs a proposal digest in the browser: Ed25519 over the UTF-8 bytes of the digest string, with
 * the approver's PKCS#8 PEM private key, through WebCrypto. The key never leaves the page.
 */

export function pemToDer(pem: string): ArrayBuffer {
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match?.[1]) throw new Error('expected a PKCS#8 PEM block ("-----BEGIN PRIVATE KEY-----")');
  const binary = atob(match[1].replace(/\s+/g, ''));
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes.buffer;
}

function toBase64(bytes: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Returns the base64 signature the approve endpoint expects. */
export async function signDigest(privateKeyPem: string, digest: string): Promise<string> {
  if (!globalThis.crypto?.subtle) throw new Error('WebCrypto is unavailable: open the console over https or on localhost');
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('pkcs8', pemToDer(privateKeyPem), { name: 'Ed25519' }, false, ['sign']);
  } catch (error) {
    throw new Error(`cannot use this key as an Ed25519 private key: ${(error as Error).message}`);
  }
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, key, new TextEncoder().encode(digest));
  return toBase64(signature);
}
