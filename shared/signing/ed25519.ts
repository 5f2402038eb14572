import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** An Ed25519 key pair as PEM text (PKCS#8 private, SPKI public). */
export interface Ed25519KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateEd25519KeyPair(): Ed25519KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Parses a PEM private key and checks it is Ed25519. */
export function parseEd25519PrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 private key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** Parses a PEM public key and checks it is Ed25519. */
export function parseEd25519PublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

export function publicKeyPemOf(privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? parseEd25519PrivateKey(privateKey) : privateKey;
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** Base64 Ed25519 signature over the UTF-8 bytes of `text`. */
export function signText(privateKey: KeyObject | string, text: string): string {
  const key = typeof privateKey === 'string' ? parseEd25519PrivateKey(privateKey) : privateKey;
  return sign(null, Buffer.from(text, 'utf8'), key).toString('base64');
}

/**
 * Checks a base64 Ed25519 signature over the UTF-8 bytes of `text`. Returns false (never throws)
 * for a malformed key, a malformed signature or a mismatch, so callers have one failure path.
 */
export function verifyText(publicKey: KeyObject | string, text: string, signatureBase64: string): boolean {
  try {
    const key = typeof publicKey === 'string' ? parseEd25519PublicKey(publicKey) : publicKey;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
    const signature = Buffer.from(signatureBase64, 'base64');
    if (signature.length !== 64) return false;
    return verify(null, Buffer.from(text, 'utf8'), key, signature);
  } catch {
    return false;
  }
}
