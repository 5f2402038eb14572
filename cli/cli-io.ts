import { defaultAdminUrl } from './configured-url.ts';

/** Where commands write; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  error(text: string): void;
  /**
   * Width tables must fit in. Unset: `COLUMNS`, else no limit (output piped to a file or a tool).
   * @defaultValue process.stdout.columns (undefined when stdout is not a terminal)
   */
  columns?: number | undefined;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  error: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  get columns() {
    return process.stdout.columns ?? (Number(process.env.COLUMNS) || undefined);
  },
};

/**
 * Exit codes, one convention for every command:
 * 0 done, 1 a request (or the check it ran) failed, 2 the command line was wrong.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Wrong or missing arguments, detected before any request: exit 2. */
export class CliError extends Error {
  readonly exitCode: number = EXIT.usage;
}

/** A request that was made and failed (HTTP error, unreachable gateway, refused signature): exit 1. */
export class RequestFailedError extends Error {
  readonly exitCode: number = EXIT.failed;
  /** HTTP status, 0 when the gateway could not be reached. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The command printed its own verdict (e.g. a broken audit chain) and must exit 1 without another message. */
export class CheckFailed extends Error {
  readonly exitCode: number = EXIT.failed;
}

/**
 * The one prefix every CLI error carries. Gateway messages often start with their own `gatehouse: `
 * (they are written for a developer's terminal); a message never gets it twice.
 */
export function withErrorPrefix(message: string): string {
  return `gatehouse: ${stripErrorPrefix(message)}`;
}

export function stripErrorPrefix(message: string): string {
  return message.replace(/^(\s*gatehouse:\s*)+/i, '');
}

/** Admin API location from flags, else GATEHOUSE_URL / GATEHOUSE_TOKEN, else the local config's server. */
export function adminTarget(values: { url?: string | undefined; token?: string | undefined }): { url: string; token: string } {
  const url = (values.url ?? process.env.GATEHOUSE_URL ?? defaultAdminUrl()).replace(/\/+$/, '');
  const token = values.token ?? process.env.GATEHOUSE_TOKEN ?? '';
  return { url, token };
}

/** The message of a non-2xx admin answer: the gateway's own text, one prefix, one `(HTTP n)` format. */
export function requestFailure(method: string, path: string, status: number, body: string): RequestFailedError {
  let message = body;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    message = (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.message ?? body;
  } catch {
    // not JSON: keep the text
  }
  const hint = status === 401 ? ' (check --token or GATEHOUSE_TOKEN)' : '';
  return new RequestFailedError(status, `${method} ${path} failed (HTTP ${status}): ${stripErrorPrefix(message)}${hint}`);
}

export function unreachable(url: string, error: unknown): RequestFailedError {
  return new RequestFailedError(0, `cannot reach the gateway at ${url} (${(error as Error).message}); is it running? (--url or GATEHOUSE_URL)`);
}

/** Every admin command needs a token; saying so before the request beats a bare 401. */
export function requireToken(target: { token: string }): void {
  if (!target.token) throw new CliError('no admin token: pass --token or set GATEHOUSE_TOKEN (admin.tokens in gatehouse.yaml)');
}

/** Calls the admin API; a non-2xx answer becomes a RequestFailedError carrying the gateway's own message. */
export async function adminRequest<T>(target: { url: string; token: string }, method: string, path: string, body?: unknown): Promise<T> {
  requireToken(target);
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (error) {
    throw unreachable(target.url, error);
  }
  const text = await response.text();
  if (!response.ok) throw requestFailure(method, path, response.status, text);
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch {
    return text as T;
  }
}

/**
 * cli-table3's colours (red headings, grey borders): only on a terminal and without `NO_COLOR`.
 * Its colour library decides from `TERM` alone, so `gatehouse optimize > report.txt` or a CI log
 * got escape codes around every cell.
 * @see https://no-color.org
 */
export function tableStyle(stream: { isTTY?: boolean } = process.stdout): { head?: string[]; border?: string[] } {
  return stream.isTTY === true && !process.env.NO_COLOR ? {} : { head: [], border: [] };
}
