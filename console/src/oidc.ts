import type { ConsoleConfig } from './api.ts';

const NONCE_KEY = 'gatehouse.console.oidc-nonce';

function randomString(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Sends the browser to the identity provider (implicit flow, `response_type=id_token`). */
export async function startOidcSignIn(oidc: NonNullable<ConsoleConfig['oidc']>): Promise<void> {
  let endpoint = oidc.authorization_endpoint;
  if (!endpoint) {
    const discovery = await fetch(`${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    endpoint = ((await discovery.json()) as { authorization_endpoint: string }).authorization_endpoint;
  }
  const nonce = randomString();
  sessionStorage.setItem(NONCE_KEY, nonce);
  const url = new URL(endpoint);
  url.searchParams.set('response_type', 'id_token');
  url.searchParams.set('client_id', oidc.client_id);
  url.searchParams.set('redirect_uri', `${location.origin}/console/`);
  url.searchParams.set('scope', oidc.scope ?? 'openid email profile');
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('state', nonce);
  location.assign(url.toString());
}

/** Picks the ID token out of the redirect (`#id_token=…&state=…`) when its state matches ours. */
export function takeOidcToken(): string | undefined {
  if (!location.hash.includes('id_token=')) return undefined;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('id_token') ?? undefined;
  const expected = sessionStorage.getItem(NONCE_KEY);
  sessionStorage.removeItem(NONCE_KEY);
  history.replaceState(null, '', `${location.pathname}#/spend`);
  return token && expected && params.get('state') === expected ? token : undefined;
}
