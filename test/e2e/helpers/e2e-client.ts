import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { generateEd25519KeyPair, signText, type Ed25519KeyPairPem } from '../../../shared/signing/ed25519.ts';
import { TEST_ADMIN_TOKEN } from '../../helpers/start-test-gatehouse.ts';

/** What a test needs from one gateway answer. */
export interface GatewayAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the body is JSON, else the raw text. */
  body: any;
  text: string;
}

/** Headers Codex CLI 0.171.0 sends that make the gateway treat the caller as Codex (CODEX-CLI.md). */
export function codexHeaders(sessionId: string, turnId: string): Record<string, string> {
  return {
    originator: 'codex_exec',
    'user-agent': 'codex_exec/0.171.0 (test)',
    'session-id': sessionId,
    'x-codex-turn-metadata': JSON.stringify({ session_id: sessionId, turn_id: turnId }),
  };
}

/** POST a JSON body to the gateway as a client with a virtual key. */
export async function postTurn(baseUrl: string, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}, path = '/v1/responses'): Promise<GatewayAnswer> {
  const response = await request(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  let parsed: unknown = text;
  if (String(response.headers['content-type'] ?? '').includes('application/json')) parsed = JSON.parse(text);
  return { status: response.statusCode, headers: response.headers, body: parsed, text };
}

/** Calls the admin API with the test admin token. */
export async function admin(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<GatewayAnswer> {
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  let parsed: unknown = text;
  if (String(response.headers['content-type'] ?? '').includes('application/json')) parsed = JSON.parse(text);
  return { status: response.statusCode, headers: response.headers, body: parsed, text };
}

/** Read-only SQL through the admin API (works against any process, in-process or child). */
export async function adminSql<T>(baseUrl: string, query: string): Promise<T[]> {
  const answer = await admin(baseUrl, 'POST', '/admin/sql', { query });
  if (answer.status !== 200) throw new Error(`admin sql failed (${answer.status}): ${answer.text}`);
  return (answer.body as { rows: T[] }).rows;
}

/** An approver of the test: id, scopes, an Ed25519 key pair, and the policy entry for it. */
export interface TestApprover {
  id: string;
  scopes: string[];
  keys: Ed25519KeyPairPem;
  sign(digest: string): string;
  policyEntry(): { id: string; public_key: string; scopes: string[] };
}

export function makeApprover(id: string, scopes: string[]): TestApprover {
  const keys = generateEd25519KeyPair();
  return {
    id,
    scopes,
    keys,
    sign: (digest) => signText(keys.privateKeyPem, digest),
    policyEntry: () => ({ id, public_key: keys.publicKeyPem, scopes }),
  };
}

/** Proposes a merge patch over the admin API and returns `{id, digest}` (throws on anything but 201). */
export async function propose(baseUrl: string, patch: Record<string, unknown>, justification: string): Promise<{ id: string; digest: string }> {
  const answer = await admin(baseUrl, 'POST', '/admin/policy/proposals', { patch, justification, author: 'e2e-test' });
  if (answer.status !== 201) throw new Error(`proposal refused (${answer.status}): ${answer.text}`);
  return answer.body as { id: string; digest: string };
}

/** Approves a proposal with the approver's signature of its digest. */
export async function approve(baseUrl: string, proposal: { id: string; digest: string }, approver: TestApprover): Promise<GatewayAnswer> {
  return admin(baseUrl, 'POST', `/admin/policy/proposals/${proposal.id}/approve`, { approver: approver.id, signature: approver.sign(proposal.digest) });
}

/**
 * A webhook receiver on 127.0.0.1:0. Like a real one it drops redeliveries of the same alert
 * (same `x-gatehouse-event-id`, which a retry after a slow answer repeats): `alerts` holds each
 * alert once, `deliveries` counts every POST.
 */
export interface AlertReceiver {
  url: string;
  alerts: Record<string, any>[];
  readonly deliveries: number;
  close(): Promise<void>;
}

export async function startAlertReceiver(): Promise<AlertReceiver> {
  const alerts: Record<string, any>[] = [];
  const seen = new Set<string>();
  let deliveries = 0;
  const app: FastifyInstance = Fastify({ logger: false });
  app.post('/alerts', async (incoming) => {
    deliveries += 1;
    const eventId = incoming.headers['x-gatehouse-event-id'];
    if (typeof eventId === 'string' && seen.has(eventId)) return { ok: true, duplicate: true };
    if (typeof eventId === 'string') seen.add(eventId);
    alerts.push(incoming.body as Record<string, any>);
    return { ok: true };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${address}/alerts`,
    alerts,
    get deliveries() {
      return deliveries;
    },
    close: () => app.close(),
  };
}

/** Polls until `check` holds; throws with `what` after `timeoutMillis`. Returns the elapsed millis. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMillis = 5_000, intervalMillis = 20): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMillis) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMillis));
  }
  return Date.now() - started;
}

/** A Responses body for a plain one-line turn. */
export function simpleTurn(model: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }], stream: true, ...extra };
}
