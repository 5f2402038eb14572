import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where commands write; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  error(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  error: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

export const ADMIN_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Admin API location from flags or GATEHOUSE_URL / GATEHOUSE_TOKEN. */
export function adminTarget(values: { url?: string | undefined; token?: string | undefined }): { url: string; token: string } {
  const url = (values.url ?? process.env.GATEHOUSE_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const token = values.token ?? process.env.GATEHOUSE_TOKEN ?? '';
  return { url, token };
}

export class CliError extends Error {}

/**
 * cli-table3's colours (red headings, grey borders): only on a terminal and without `NO_COLOR`.
 * Its colour library decides from `TERM` alone, so `gatehouse optimize > report.txt` or a CI log
 * got escape codes around every cell.
 * @see https://no-color.org
 */
export function tableStyle(stream: { isTTY?: boolean } = process.stdout): { head?: string[]; border?: string[] } {
  return stream.isTTY === true && !process.env.NO_COLOR ? {} : { head: [], border: [] };
}

/** Calls the admin API; a non-2xx answer becomes a CliError carrying the gateway's own message. */
export async function adminRequest<T>(target: { url: string; token: string }, method: string, path: string, body?: unknown): Promise<T> {
  if (!target.token) throw new CliError('no admin token: pass --token or set GATEHOUSE_TOKEN (admin.tokens in gatehouse.yaml)');
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach the gateway at ${target.url} (${(error as Error).message}); is it running? (--url or GATEHOUSE_URL)`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const message = (parsed as { error?: { message?: string } })?.error?.message ?? text;
    throw new CliError(`${method} ${path} failed (HTTP ${response.status}): ${message}`);
  }
  return parsed as T;
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
}
