import { isIP } from 'node:net';

/** The admin token the shipped example config falls back to: public, so never a credential. */
export const EXAMPLE_ADMIN_TOKEN = 'change-me-local-admin-token';

/** Every admin token value shipped in an example file (gatehouse.example.yaml, deploy/.env.example). */
export const EXAMPLE_ADMIN_TOKENS: readonly string[] = [EXAMPLE_ADMIN_TOKEN, 'change-me-admin-token-0000-replace-me', 'change-me-analyst-token-000-replace-me'];

/** Shortest admin token accepted off loopback (characters; 32 random base64url characters ≈ 192 bits). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Raised at start when an admin token is too weak for the address the server binds. */
export class WeakAdminTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeakAdminTokenError';
  }
}

/** True for addresses only this machine reaches: 127.0.0.0/8, ::1, `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/**
 * Checks the plain admin tokens against the bind address. Off loopback, the example token or one
 * shorter than 32 characters refuses the start (anyone on the network could guess or read it);
 * on loopback it is a warning, so local tries and the test suite keep working. Hashed tokens
 * (`token_sha256`) cannot be measured and are not checked.
 * @returns warnings to log
 * @throws WeakAdminTokenError naming the token and what to do
 */
export function checkAdminTokens(tokens: readonly { name: string; token?: string | undefined }[], host: string): string[] {
  const warnings: string[] = [];
  const loopback = isLoopbackHost(host);
  for (const entry of tokens) {
    if (entry.token === undefined) continue;
    const problem =
      EXAMPLE_ADMIN_TOKENS.includes(entry.token)
        ? `is the example token "${entry.token}" shipped with Gatehouse`
        : entry.token.length < MIN_ADMIN_TOKEN_LENGTH
          ? `is ${entry.token.length} characters (fewer than ${MIN_ADMIN_TOKEN_LENGTH})`
          : undefined;
    if (!problem) continue;
    const fix = `set a random one of at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. GATEHOUSE_ADMIN_TOKEN=$(openssl rand -base64 32)), or give token_sha256`;
    if (!loopback) throw new WeakAdminTokenError(`admin token "${entry.name}" ${problem} and the server binds ${host}, reachable from the network: ${fix}`);
    warnings.push(`admin token "${entry.name}" ${problem}; accepted only because the server binds loopback (${host}): ${fix} before binding another address`);
  }
  return warnings;
}
