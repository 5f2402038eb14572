import type { createRemoteJWKSet } from 'jose';

/** `policy.oidc` of the active policy. */
export interface OidcSettings {
  issuer: string;
  audience: string;
  jwks_url: string;
}

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * Verifies an OIDC ID token (signature against the issuer's JWKS, `iss`, `aud`, `exp`) and
 * returns its subject. JWKS are fetched once per URL and refreshed by jose on unknown `kid`s.
 * @throws when the token does not verify
 */
export async function verifyOidcSubject(idToken: string, settings: OidcSettings): Promise<string> {
  // jose is loaded by the first OIDC sign-in, not by every process that may verify one.
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  let keySet = keySets.get(settings.jwks_url);
  if (!keySet) keySets.set(settings.jwks_url, (keySet = createRemoteJWKSet(new URL(settings.jwks_url))));
  const { payload } = await jwtVerify(idToken, keySet, { issuer: settings.issuer, audience: settings.audience });
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('ID token has no subject');
  return payload.sub;
}
