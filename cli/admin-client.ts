import type { Command } from 'commander';
import { adminTarget, requestFailure, requireToken, unreachable } from './cli-io.ts';

/** `--url` and `--token` for a command that talks to a running gateway's admin API. */
export function addAdminOptions(command: Command): Command {
  return command
    .option('--url <url>', 'gateway URL (default: GATEHOUSE_URL or http://127.0.0.1:8787)')
    .option('--token <token>', 'admin token (default: GATEHOUSE_TOKEN)');
}

/** `--json` and `--csv` for a command that lists records. */
export function addOutputOptions(command: Command, what = 'records'): Command {
  return command.option('--json', `print the ${what} as JSON`).option('--csv', `print the ${what} as CSV`);
}

/** Options every admin command receives from {@link addAdminOptions}. */
export interface AdminOptions {
  url?: string;
  token?: string;
}

/** A tiny client for the admin API of a running gateway (`--url`/`--token` or GATEHOUSE_URL/GATEHOUSE_TOKEN). */
export class AdminClient {
  readonly baseUrl: string;
  private readonly token: string;

  constructor(options: AdminOptions) {
    const target = adminTarget(options);
    requireToken(target);
    this.baseUrl = target.url;
    this.token = target.token;
  }

  /** The raw response of a 2xx answer; anything else throws RequestFailedError (exit 1). */
  async request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    if (!response.ok) throw requestFailure(method, path, response.status, await response.text());
    return response;
  }

  async json<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}
