/**
 * Makes an analyst's SQL safe to run read-only on either engine, without session state.
 *
 * Why not `clickhouse_settings: { readonly }`: over HTTP those are per-request URL parameters, but
 * chDB's Connection turns them into `SET` statements on the one in-process session, so `readonly`
 * sticks to the embedded engine and every later write (spans, audit, proposals) fails with
 * "Cannot execute query in readonly mode" — and `readonly` can never be unset again.
 *
 * Instead: exactly one statement, of a reading kind, with a trailing `SETTINGS …, readonly = 1`
 * clause that ClickHouse scopes to that query. `readonly = 1` also refuses table functions
 * (`file()`, `url()`, `s3()`), so an analyst cannot read the host's files. The statement-kind
 * check matters: `INSERT … SETTINGS readonly = 0 SELECT …` would otherwise outrank the trailer.
 * @see https://clickhouse.com/docs/operations/settings/permissions-for-queries#readonly
 */

const READING_KEYWORDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS']);

/** A query the read-only path refuses, with a message an analyst understands. */
export class ReadOnlyQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadOnlyQueryError';
  }
}

interface Scan {
  /** Offsets of `;` outside strings, quoted identifiers and comments. */
  semicolons: number[];
  /** The first word outside comments and leading parentheses, upper-cased. */
  firstWord: string;
}

/** A small lexer: enough of ClickHouse's to tell code from literals and comments. */
function scan(sql: string): Scan {
  const semicolons: number[] = [];
  let firstWord = '';
  let index = 0;
  while (index < sql.length) {
    const char = sql[index] as string;
    const next = sql[index + 1];
    if (char === "'" || char === '"' || char === '`') {
      index += 1;
      while (index < sql.length && sql[index] !== char) index += sql[index] === '\\' ? 2 : 1;
      index += 1; // closing quote; a doubled quote ('') simply opens the next literal
      continue;
    }
    if ((char === '-' && next === '-') || char === '#') {
      while (index < sql.length && sql[index] !== '\n') index += 1;
      continue;
    }
    if (char === '/' && next === '*') {
      const end = sql.indexOf('*/', index + 2);
      if (end < 0) throw new ReadOnlyQueryError('unterminated /* comment');
      index = end + 2;
      continue;
    }
    if (char === ';') semicolons.push(index);
    if (!firstWord && /[A-Za-z]/.test(char)) {
      const match = /^[A-Za-z_]+/.exec(sql.slice(index));
      firstWord = (match?.[0] ?? '').toUpperCase();
      index += firstWord.length;
      continue;
    }
    if (!firstWord && !/[\s(]/.test(char)) firstWord = char;
    index += 1;
  }
  return { semicolons, firstWord };
}

/** A setting name and value as ClickHouse's SETTINGS clause takes them. */
export function renderSetting(name: string, value: string | number | boolean): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ReadOnlyQueryError(`invalid setting name ${JSON.stringify(name)}`);
  if (typeof value === 'boolean') return `${name} = ${value ? 1 : 0}`;
  if (typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(value)) return `${name} = ${value}`;
  return `${name} = '${String(value).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Returns `query` as one read-only statement: trailing semicolons dropped, `settings` and
 * `readonly = 1` appended as a query-level SETTINGS clause. Throws ReadOnlyQueryError for
 * several statements, a writing statement, or an attempt to set `readonly` itself.
 */
export function readOnlyStatement(query: string, settings: Record<string, string | number | boolean> = {}): string {
  let text = query.trim();
  while (text.endsWith(';')) text = text.slice(0, -1).trimEnd();
  if (text.length === 0) throw new ReadOnlyQueryError('empty query');
  const scanned = scan(text);
  if (scanned.semicolons.length > 0) throw new ReadOnlyQueryError('send one statement at a time (found ";" between statements)');
  if (!READING_KEYWORDS.has(scanned.firstWord)) {
    throw new ReadOnlyQueryError(`read-only access: ${scanned.firstWord || 'this'} statements are not allowed (use SELECT, WITH, SHOW, DESCRIBE, EXPLAIN or EXISTS)`);
  }
  const clauses = Object.entries(settings)
    .filter(([name]) => name !== 'readonly')
    .map(([name, value]) => renderSetting(name, value));
  clauses.push('readonly = 1');
  // On its own line, so a trailing `-- comment` cannot swallow it.
  return `${text}\nSETTINGS ${clauses.join(', ')}`;
}
