/** Talks to the gateway's admin API with the signed-in token (kept in sessionStorage only). */

export type Role = 'admin' | 'approver' | 'analyst' | 'unknown';

export interface Session {
  token: string;
  name: string;
  role: Role;
  /** Signed in through OIDC: the token is an ID token, also sent along with approvals. */
  oidc?: boolean;
}

export interface ConsoleConfig {
  database: string;
  oidc?: { issuer: string; client_id: string; authorization_endpoint?: string; scope?: string };
}

const TOKEN_KEY = 'gatehouse.console.session';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(TOKEN_KEY);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(TOKEN_KEY);
}

let currentToken = loadSession()?.token ?? '';
export function setToken(token: string): void {
  currentToken = token;
}

/** Reads the error message out of an OpenAI-shaped or Fastify-shaped error body. */
function errorMessage(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    if (typeof body.error === 'object' && body.error?.message) return body.error.message;
    if (body.message) return body.message;
    if (typeof body.error === 'string') return body.error;
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 300) || `HTTP ${status}`;
}

export async function request(path: string, init: RequestInit = {}, token = currentToken): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, await response.text()));
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await request(path, { method: 'POST', body: JSON.stringify(body) });
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** PATCH/DELETE/POST with a JSON body (or none), answering the parsed JSON body. */
export async function sendJson<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export type Row = Record<string, unknown>;

/**
 * Queries this tab sends at once: the gateway's default analyst_sql.max_concurrent. A page loads
 * up to eight tables and charts together; past the gateway's slots they would queue there against
 * analyst_sql.max_queue_wait_ms (then 429), so the rest wait here instead, where no limit applies.
 */
const SQL_SLOTS = 2;
let sqlRunning = 0;
const sqlWaiting: (() => void)[] = [];

async function withSqlSlot<T>(run: () => Promise<T>): Promise<T> {
  if (sqlRunning >= SQL_SLOTS) await new Promise<void>((resolve) => sqlWaiting.push(resolve));
  else sqlRunning += 1;
  try {
    return await run();
  } finally {
    // Hand the slot straight to the next waiter (the count stays), else free it.
    const next = sqlWaiting.shift();
    if (next) next();
    else sqlRunning -= 1;
  }
}

/** Runs read-only SQL through `POST /admin/sql` (analyst and up). */
export async function sql<T extends Row = Row>(query: string): Promise<T[]> {
  const body = await withSqlSlot(() => postJson<{ rows: T[] }>('/admin/sql', { query }));
  return body.rows ?? [];
}

/** A ClickHouse string literal. */
export function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** ClickHouse returns 64-bit integers as strings in JSON; everything numeric goes through here. */
export function num(value: unknown): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(parsed) ? parsed : 0;
}

let config: ConsoleConfig | undefined;
export async function loadConfig(): Promise<ConsoleConfig> {
  if (config) return config;
  try {
    const response = await fetch('/console/config.json');
    config = response.ok ? ((await response.json()) as ConsoleConfig) : { database: 'gatehouse' };
  } catch {
    config = { database: 'gatehouse' };
  }
  return config;
}

export function database(): string {
  return config?.database ?? 'gatehouse';
}

/**
 * Checks a token and learns who it belongs to: `GET /admin/whoami` when the gateway has it,
 * else a `SELECT 1` through `/admin/sql` (which every console role may run).
 */
export async function signIn(token: string): Promise<Session> {
  try {
    const who = (await (await request('/admin/whoami', {}, token)).json()) as { name?: string; role?: Role };
    return { token, name: who.name ?? 'admin token', role: who.role ?? 'unknown' };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  await request('/admin/sql', { method: 'POST', body: JSON.stringify({ query: 'SELECT 1 AS ok' }) }, token);
  return { token, name: 'admin token', role: 'unknown' };
}

/** Policy document as an object whether the API sends it parsed or as JSON/YAML text already parsed server-side. */
export interface PolicyView {
  version: number;
  hash: string;
  parent_hash?: string;
  approved_by?: string | string[];
  document: PolicyDocument;
  /** Why the newest stored version was refused (the version shown stays in force), if one was. */
  refusal?: string | null;
}

export interface BudgetPair {
  daily_usd?: number;
  monthly_usd?: number;
}

export interface PolicyDocument {
  models?: Record<string, { provider: string; price?: { input: number; output: number; cached_input?: number } }>;
  cost_centers?: Record<string, { budgets?: { developer?: BudgetPair; cost_center?: BudgetPair }; allowed_models?: string[] }>;
  approvers?: { id: string; scopes: string[] }[];
}

export async function activePolicy(): Promise<PolicyView | undefined> {
  try {
    const policy = await getJson<PolicyView & { document: PolicyDocument | string }>('/admin/policy');
    const document = typeof policy.document === 'string' ? (JSON.parse(policy.document) as PolicyDocument) : policy.document;
    return { ...policy, document: document ?? {} };
  } catch {
    return undefined;
  }
}
