import { Pool, request } from 'undici';
import type { GuardrailHook } from '../../shared/policy/policy-schema.ts';

/**
 * The wire side of the external guardrail hook (protocol in docs/GUARDRAILS.md): one JSON POST per
 * decision over a kept-alive connection pool per classifier origin, answered with allow, block or redact.
 * Everything that is not a well-formed verdict within `timeout_ms` is a failure; the caller applies
 * `on_error`.
 */

export type HookPhase = 'before_hop' | 'after_hop';

/** One conversation (or answer) item sent to the classifier. `index` is its place in the list it came from. */
export interface HookItem {
  index: number;
  /** `input[12]`, `messages[3]`, `instructions`, `system`, `output[0]`, `choices[0].message`, `content[1]`. */
  location: string;
  item: unknown;
}

/** What the classifier is told besides the items (never the virtual key's secret, never the developer's name). */
export interface HookSubject {
  phase: HookPhase;
  request_id: string;
  session_id: string;
  cost_center: string;
  key_id: string;
  /** The model the client asked for, and the one this hop serves. */
  requested_model: string;
  model: string;
  provider: string;
  provider_type: string;
  /** This hop goes to another provider than the turn's first. */
  cross_provider: boolean;
  inbound_protocol: string;
  policy_version: number;
}

export type HookVerdict =
  | { action: 'allow' }
  | { action: 'block'; reason: string }
  | { action: 'redact'; reason: string; items: Map<number, unknown> };

export type HookCall = { ok: true; verdict: HookVerdict; millis: number } | { ok: false; failure: 'timeout' | 'error'; detail: string; millis: number };

export const HOOK_PROTOCOL_VERSION = 1;
/** A classifier's answer larger than this is a failure (it could only be a misconfigured endpoint). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const MAX_REASON_CHARS = 300;

const pools = new Map<string, Pool>();
function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (!pool) pools.set(origin, (pool = new Pool(origin, { connections: 64, keepAliveTimeout: 30_000, pipelining: 1 })));
  return pool;
}

/** The hook's headers: literal ones, and `headers_from_env` read now, so a rotated credential needs no policy change. */
export function hookHeaders(hook: Pick<GuardrailHook, 'headers' | 'headers_from_env'>, environment: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(hook.headers)) headers[name.toLowerCase()] = value;
  for (const [name, variable] of Object.entries(hook.headers_from_env)) {
    const value = environment[variable];
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** The classifier's URL without query or credentials: what audit rows, spans and error messages name. */
export function hookName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function parseVerdict(text: string): HookVerdict | string {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return 'the answer is not JSON';
  }
  if (answer === null || typeof answer !== 'object') return 'the answer is not a JSON object';
  const { action, reason, items } = answer as { action?: unknown; reason?: unknown; items?: unknown };
  const words = typeof reason === 'string' ? reason.slice(0, MAX_REASON_CHARS) : '';
  if (action === 'allow') return { action };
  if (action === 'block') return { action, reason: words };
  if (action !== 'redact') return `unknown action ${JSON.stringify(action)?.slice(0, 40)} (allow, block or redact)`;
  if (!Array.isArray(items)) return 'a redact answer needs items: [{index, item}]';
  const replacements = new Map<number, unknown>();
  for (const entry of items as unknown[]) {
    const { index, item } = (entry ?? {}) as { index?: unknown; item?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || item === undefined) return 'each redact item needs an integer index and an item';
    replacements.set(index, item);
  }
  return { action, reason: words, items: replacements };
}

/** Asks the classifier. Never throws: a failure is returned with what went wrong (no content in it). */
export async function callHook(hook: GuardrailHook, subject: HookSubject, items: readonly HookItem[], signal?: AbortSignal): Promise<HookCall> {
  const started = performance.now();
  const url = new URL(hook.url);
  const timeout = AbortSignal.timeout(hook.timeout_ms);
  const body = JSON.stringify({ version: HOOK_PROTOCOL_VERSION, ...subject, items });
  const failed = (failure: 'timeout' | 'error', detail: string): HookCall => ({ ok: false, failure, detail, millis: performance.now() - started });
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { ...hookHeaders(hook), 'content-type': 'application/json', accept: 'application/json' },
      body,
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      dispatcher: poolFor(url.origin),
      headersTimeout: hook.timeout_ms,
      bodyTimeout: hook.timeout_ms,
    });
    const length = Number(response.headers['content-length'] ?? 0);
    if (length > MAX_ANSWER_BYTES) {
      response.body.destroy();
      return failed('error', `answer of ${length} bytes`);
    }
    const text = await response.body.text();
    if (response.statusCode !== 200) return failed('error', `HTTP ${response.statusCode}`);
    const verdict = parseVerdict(text);
    return typeof verdict === 'string' ? failed('error', verdict) : { ok: true, verdict, millis: performance.now() - started };
  } catch (error) {
    if (timeout.aborted) return failed('timeout', `no answer within ${hook.timeout_ms} ms`);
    return failed('error', (error as { code?: string }).code ?? (error as Error).message.slice(0, 120));
  }
}
