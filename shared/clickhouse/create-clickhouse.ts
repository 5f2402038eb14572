import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openConfinedEngine } from './embedded-engine-grants.ts';
import { withQueryScopedSettings } from './query-scoped-settings.ts';

export interface ClickHouseOptions {
  /** `embedded` or an http(s) URL. */
  url: string;
  database: string;
  dataDir: string;
  username?: string | undefined;
  password?: string | undefined;
}

/**
 * The one way every role reaches ClickHouse: the official client, either over HTTP to a server
 * or in-process through chDB's Connection (`chdb/connection`). chDB binds a single data directory
 * per process, so embedded mode must be the only opener of `dataDir/clickhouse` in this process.
 */
export async function createClickHouse(options: ClickHouseOptions): Promise<ClickHouseClient> {
  if (options.url === 'embedded') {
    const path = resolve(options.dataDir, 'clickhouse');
    mkdirSync(path, { recursive: true });
    const engine = openConfinedEngine(path, options.dataDir);
    const { createChdbConnection } = await import('chdb/connection');
    // chDB applies per-call settings as session-wide SETs; keep them scoped to their statement.
    const client = createClient({ connection: withQueryScopedSettings(createChdbConnection({ path })) } as Parameters<typeof createClient>[0]);
    const close = client.close.bind(client);
    client.close = async () => {
      await close();
      engine.close();
    };
    return client;
  }
  // A path in the URL (a proxy, or another process's /clickhouse endpoint) must be kept on every request.
  const url = new URL(options.url);
  const pathname = url.pathname.replace(/\/+$/, '');
  url.pathname = '/';
  return createClient({
    url: url.toString(),
    ...(pathname ? { pathname } : {}),
    username: options.username ?? 'default',
    password: options.password ?? '',
    request_timeout: 30_000,
    compression: { request: false, response: true },
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}
