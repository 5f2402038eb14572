import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AdminRole } from '../../shared/config/config-schema.ts';
import { secretsEqual, sha256Hex } from '../../shared/crypto/hashing.ts';
import { GatewayError } from '../errors/gateway-error.ts';

export interface AdminPrincipal {
  name: string;
  role: AdminRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

const ROLE_RANK: Record<AdminRole, number> = { analyst: 1, approver: 2, admin: 3 };

export interface AdminTokenEntry {
  name: string;
  role: AdminRole;
  tokenSha256: string;
}

export function adminTokenEntries(tokens: { name: string; role: AdminRole; token?: string | undefined; token_sha256?: string | undefined }[]): AdminTokenEntry[] {
  return tokens.map((token) => ({ name: token.name, role: token.role, tokenSha256: token.token_sha256 ?? sha256Hex(token.token ?? '') }));
}

/** Finds the admin token's owner, comparing against every entry in constant time. */
export function authenticateAdmin(entries: AdminTokenEntry[], presented: string | undefined): AdminPrincipal | undefined {
  if (!presented) return undefined;
  let found: AdminPrincipal | undefined;
  for (const entry of entries) {
    if (secretsEqual(presented, entry.tokenSha256) && !found) found = { name: entry.name, role: entry.role };
  }
  return found;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  return undefined;
}

export type RequireRole = (role: AdminRole) => preHandlerAsyncHookHandler;

/**
 * Single sign-on for people: an OIDC ID token as the bearer, verified against the active policy's
 * `oidc` settings. Its subject is an approver when an approver lists it as `oidc_subject`,
 * otherwise an analyst (read-only). Admin powers stay with admin tokens.
 */
export interface OidcSignIn {
  settings(): { issuer: string; audience: string; jwks_url: string } | undefined;
  approverOf(subject: string): string | undefined;
  verify(idToken: string, settings: { issuer: string; audience: string; jwks_url: string }): Promise<string>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

async function authenticateOidc(oidc: OidcSignIn | undefined, presented: string | undefined): Promise<AdminPrincipal | undefined> {
  const settings = oidc?.settings();
  if (!oidc || !settings || !presented || !JWT_SHAPE.test(presented)) return undefined;
  try {
    const subject = await oidc.verify(presented, settings);
    const approver = oidc.approverOf(subject);
    return approver ? { name: approver, role: 'approver' } : { name: `oidc:${subject}`, role: 'analyst' };
  } catch {
    return undefined;
  }
}

/** Builds `requireRole(role)`: a preHandler admitting admin tokens (or OIDC sign-ins) of that role or a higher one. */
export function createRequireRole(entries: AdminTokenEntry[], oidc?: OidcSignIn): RequireRole {
  return (role) =>
    async function requireAdminRole(request: FastifyRequest, _reply: FastifyReply) {
      const presented = bearerToken(request);
      const principal = authenticateAdmin(entries, presented) ?? (await authenticateOidc(oidc, presented));
      if (!principal) {
        throw new GatewayError('invalid_api_key', {
          message: 'gatehouse: admin routes need "Authorization: Bearer <admin token>" (admin.tokens in gatehouse.yaml)',
        });
      }
      if (ROLE_RANK[principal.role] < ROLE_RANK[role]) {
        throw new GatewayError('forbidden', {
          message: `gatehouse: admin token "${principal.name}" has role ${principal.role}; this route needs ${role} or higher`,
        });
      }
      request.admin = principal;
    };
}
