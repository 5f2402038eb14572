
/**
 * Makes per-call `clickhouse_settings` per-call on chDB too.
 *
 * Over HTTP, @clickhouse/client sends settings as URL parameters of one request. chDB's Connection
 * (`chdb/connection`) instead prefixes `SET k = v;` to the statement, on the one in-process session,
 * so every setting outlives its call: `readonly` from an analyst query makes the embedded engine
 * refuse all later writes (and can never be unset), and an `insert_deduplication_token` makes the
 * next token-less insert into a deduplicating table vanish as a "duplicate". This wrapper moves
 * the settings into the statement's own query-level `SETTINGS` clause, which ClickHouse scopes to
 * that statement: after the query for SELECT-like calls (`query`, `exec`), before `FORMAT` for
 * inserts. `command` is passed through untouched, since after DDL a trailing SETTINGS means table
 * settings. Settings chDB handles itself (`default_format`, HTTP-only ones) stay where they were.
 * @see https://clickhouse.com/docs/sql-reference/statements/select#settings-in-select-query
 */

/** A setting name and value as ClickHouse's SETTINGS clause takes them. */
export function renderSetting(name: string, value: string | number | boolean): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid setting name ${JSON.stringify(name)}`);
  if (typeof value === 'boolean') return `${name} = ${value ? 1 : 0}`;
  if (typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(value)) return `${name} = ${value}`;
  return `${name} = '${String(value).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Settings about ClickHouse's HTTP transport itself; meaningless (and refused by chDB) inside a query. */
export const HTTP_TRANSPORT_SETTINGS: ReadonlySet<string> = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_response_buffer_size',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
]);

/** Settings chDB's Connection maps to engine options or drops; moving them would change nothing or fail. */
const LEFT_TO_CONNECTION = new Set(['default_format', ...HTTP_TRANSPORT_SETTINGS]);

type Settings = Record<string, unknown>;
interface CallParams {
  query: string;
  clickhouse_settings?: Settings;
  values?: unknown;
}

function split(settings: Settings | undefined): { kept: Settings | undefined; clause: string } {
  if (!settings) return { kept: undefined, clause: '' };
  const kept: Settings = {};
  const scoped: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (LEFT_TO_CONNECTION.has(name) || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) kept[name] = value;
    else scoped.push(renderSetting(name, value));
  }
  return { kept: Object.keys(kept).length > 0 ? kept : undefined, clause: scoped.join(', ') };
}

function withoutTrailingSemicolons(query: string): string {
  let text = query.trimEnd();
  while (text.endsWith(';')) text = text.slice(0, -1).trimEnd();
  return text;
}

/** `… FORMAT X` → `… SETTINGS … FORMAT X` (INSERT takes SETTINGS before its FORMAT and data). */
const INSERT_FORMAT = /\s+FORMAT\s+([A-Za-z0-9_]+)\s*$/i;

export function scopeSelectSettings<T extends CallParams>(params: T): T {
  const { kept, clause } = split(params.clickhouse_settings);
  if (!clause) return params;
  if (params.values !== undefined) return scopeInsertSettings(params);
  // A line of its own, so a trailing `-- comment` in the caller's SQL cannot swallow it.
  return { ...params, query: `${withoutTrailingSemicolons(params.query)}\nSETTINGS ${clause}`, clickhouse_settings: kept };
}

export function scopeInsertSettings<T extends CallParams>(params: T): T {
  const { kept, clause } = split(params.clickhouse_settings);
  if (!clause || !INSERT_FORMAT.test(params.query)) return params;
  return { ...params, query: params.query.replace(INSERT_FORMAT, ` SETTINGS ${clause} FORMAT $1`), clickhouse_settings: kept };
}

/**
 * Wraps a chDB Connection so `query`, `exec` and `insert` carry their settings in the statement.
 * Everything else (ping, command, close, …) goes to the original, bound to it.
 */
export function withQueryScopedSettings<C extends object>(connection: C): C {
  return new Proxy(connection, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (params: CallParams) => unknown;
      if (property === 'query' || property === 'exec') return (params: CallParams) => method.call(target, scopeSelectSettings(params));
      if (property === 'insert') return (params: CallParams) => method.call(target, scopeInsertSettings(params));
      return (method as (...args: unknown[]) => unknown).bind(target);
    },
  });
}
