import type { CliIo } from '../cli-io.ts';

/** Where a CLI command writes (the CLI's own io: `out`, `error`). */
export type CommandIo = CliIo;

/** Raised for a failed admin call; the CLI prints `message` and exits 1. */
export class AdminApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'AdminApiError';
    this.status = status;
  }
}

/** A tiny client for the admin API of a running gateway (`--url`/`--token` or GATEHOUSE_URL/GATEHOUSE_TOKEN). */
export class AdminClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;

  constructor(url: string | undefined, token: string | undefined, env: NodeJS.ProcessEnv) {
    this.baseUrl = (url ?? env.GATEHOUSE_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
    this.token = token ?? env.GATEHOUSE_TOKEN;
  }

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw new AdminApiError(0, `cannot reach ${this.baseUrl}: ${(error as Error).message} (set --url or GATEHOUSE_URL)`);
    }
    if (!response.ok) {
      const text = await response.text();
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error?: { message?: string }; message?: string };
        message = parsed.error?.message ?? parsed.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new AdminApiError(response.status, `${method} ${path} failed (${response.status}): ${message}`);
    }
    return response;
  }

  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}

/** Runs a command body, turning thrown errors into a message and exit code 1. */
export async function runReportingErrors(io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    io.error(`gatehouse: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** Bad arguments: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
