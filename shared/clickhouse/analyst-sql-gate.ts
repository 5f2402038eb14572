/**
 * The one decision "may this SQL run for this caller", made on ClickHouse's own parse of it.
 *
 * The engine parses; this file only reads the tree it prints. `formatQuery()` (given the text as a bound
 * parameter, so nothing in it can run) refuses several statements and returns the one statement in
 * canonical form; `EXPLAIN AST` of that canonical text prints its syntax tree without executing it. The
 * rules below walk that tree: one reading statement, no INTO OUTFILE, no SETTINGS, table functions from a
 * short list of pure ones, no function that reaches files, the network or the host, and only the tables
 * the caller's role may read. Anything the walk does not recognise is refused (allow-list, fail closed).
 */

/** Why a query was refused: `rule` is the stable name users see in the message and docs/SECURITY.md. */
export class QueryRefusedError extends Error {
  readonly rule: RefusalRule;
  constructor(rule: RefusalRule, message: string) {
    super(`query refused (${rule}): ${message}`);
    this.name = 'QueryRefusedError';
    this.rule = rule;
  }
}

export type RefusalRule =
  | 'syntax'
  | 'one_statement'
  | 'reading_statement'
  | 'into_outfile'
  | 'settings'
  | 'format_clause'
  | 'table_function'
  | 'function'
  | 'table'
  | 'construct';

/** One node of `EXPLAIN AST` output: `Kind rest (children N)`, children indented one space deeper. */
export interface AstNode {
  kind: string;
  /** What follows the kind on its line (a name, a literal, `gatehouse.spans (alias s)`), without `(children N)`. */
  text: string;
  children: AstNode[];
}

const LINE = /^( *)([A-Za-z][A-Za-z0-9_]*)(?: (.*))?$/;
const CHILDREN = / ?\(children (\d+)\)$/;

/**
 * Reads `EXPLAIN AST` output into a tree. Identifiers are printed raw (a back-quoted name may hold a
 * newline), so a name could forge lines: every node's declared child count must match the lines found
 * under it, and there must be exactly one root, or the dump is refused.
 */
export function parseAstDump(dump: string): AstNode {
  const lines = dump.replace(/\n+$/, '').split('\n');
  const stack: { node: AstNode; depth: number; declared: number }[] = [];
  const roots: { node: AstNode; declared: number }[] = [];
  const all: { node: AstNode; declared: number }[] = [];
  for (const line of lines) {
    const counted = CHILDREN.exec(line);
    const match = LINE.exec(counted ? line.slice(0, counted.index) : line);
    if (!match) throw forged();
    const depth = (match[1] as string).length;
    const node: AstNode = { kind: match[2] as string, text: match[3] ?? '', children: [] };
    const entry = { node, declared: Number(counted?.[1] ?? 0) };
    while (stack.length > 0 && (stack[stack.length - 1] as { depth: number }).depth >= depth) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      if (depth !== 0) throw forged();
      roots.push(entry);
    } else {
      if (depth !== parent.depth + 1) throw forged();
      parent.node.children.push(node);
    }
    stack.push({ node, depth, declared: entry.declared });
    all.push(entry);
  }
  if (roots.length !== 1) throw forged();
  for (const { node, declared } of all) if (node.children.length !== declared) throw forged();
  return (roots[0] as { node: AstNode }).node;
}

function forged(): QueryRefusedError {
  return new QueryRefusedError('construct', 'the query holds a name or text the checker cannot read (a line break in an identifier?)');
}

/** Table functions that compute rows from their arguments alone: no file, network, other table or host. */
export const PURE_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'values', 'generateRandom', 'generate_series', 'generateSeries', 'primes']);

/** Scalar functions that read files, call out (LLM providers, Keeper), reveal the host, or stall. Lower-case. */
const DENIED_FUNCTIONS: ReadonlySet<string> = new Set(
  [
    'file', 'sleep', 'sleepEachRow', 'hostName', 'hostname', 'fqdn', 'fullHostName', 'getServerSetting', 'getMacro', 'serverUUID',
    'filesystemAvailable', 'filesystemCapacity', 'filesystemUnreserved', 'getOSKernelVersion', 'catboostEvaluate', 'naiveBayesClassifier',
    'addressToLine', 'addressToLineWithInlines', 'addressToSymbol', 'demangle', 'trap', 'getClientHTTPHeader', 'generateSerialID',
    'zookeeperSessionUptime', 'joinGet', 'joinGetOrNull', 'lemmatize', 'stem', 'synonyms', 'tcpPort', 'getServerPort', 'currentProfiles',
    'input', 'url', 's3', 'remote', 'remoteSecure', 'mysql', 'postgresql', 'executable', 'hdfs', 'jdbc', 'odbc',
  ].map((name) => name.toLowerCase()),
);

/** Families refused by prefix: dictionary access (dictionaries can be backed by files, URLs, databases), LLM calls. */
function isDeniedFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return DENIED_FUNCTIONS.has(lower) || lower.startsWith('dict') || /^ai[A-Z]/.test(name);
}

/** `system` tables that describe the schema and engine features only (no paths, hosts, queries, users). */
export const SCHEMA_SYSTEM_TABLES: ReadonlySet<string> = new Set(
  ['one', 'numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'databases', 'tables', 'columns', 'functions', 'table_functions', 'data_type_families', 'formats', 'table_engines', 'time_zones', 'collations', 'keywords', 'aggregate_function_combinators'].map((name) => `system.${name}`),
);

/** What a caller may name in FROM, JOIN, IN, DESCRIBE, SHOW and EXISTS. */
export interface TableAccess {
  /** Whether this caller may read the table with this full name (`gatehouse.spans`). */
  canRead(fullName: string): boolean;
  /** Databases that exist for this caller (SHOW TABLES FROM …); other qualified names are refused. */
  readonly databases: ReadonlySet<string>;
  /** Shown in refusals: what the caller may read instead. */
  readonly describe: string;
}

export interface GateOptions {
  access: TableAccess;
  /** `/clickhouse` lets a query pick its output format (`FORMAT JSON`); `/admin/sql` answers JSON rows only. */
  allowFormatClause: boolean;
}

/** Nodes that only compute from what their children name: walked, never refused by kind. */
const EXPRESSION_KINDS = new Set([
  'ExpressionList', 'SelectQuery', 'SelectWithUnionQuery', 'SelectIntersectExceptQuery', 'Subquery', 'TablesInSelectQuery',
  'TablesInSelectQueryElement', 'TableJoin', 'ArrayJoin', 'Literal', 'Asterisk', 'QualifiedAsterisk', 'ColumnsRegexpMatcher',
  'ColumnsListMatcher', 'QualifiedColumnsRegexpMatcher', 'QualifiedColumnsListMatcher', 'ColumnsApplyTransformer',
  'ColumnsExceptTransformer', 'ColumnsReplaceTransformer', 'ColumnsReplaceTransformerReplacement', 'ColumnsTransformerList',
  'OrderByElement', 'WithElement', 'WindowDefinition', 'WindowListElement', 'QueryParameter', 'SampleRatio', 'InterpolateElement',
  'Interpolate', 'LimitByClause', 'Alias', 'TableExpression', 'TableIdentifier', 'Function', 'Identifier', 'Lambda',
]);

/** Statement kinds that write, change settings or the session, or touch the server: named in the refusal. */
const READING_ROOTS = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery', 'Explain', 'ShowTables', 'DescribeQuery', 'ExistsTableQuery', 'ShowCreateTableQuery']);

/** Throws QueryRefusedError unless the statement (its `EXPLAIN AST` tree) is one the caller may run. */
export function checkStatement(root: AstNode, options: GateOptions): void {
  if (!READING_ROOTS.has(root.kind)) {
    throw new QueryRefusedError('reading_statement', `${statementName(root.kind)} is not allowed: this SQL is read-only (SELECT or WITH … SELECT, SHOW TABLES, DESCRIBE, EXISTS, EXPLAIN of a SELECT)`);
  }
  if (root.kind === 'Explain') return checkExplain(root, options);
  if (root.kind === 'SelectWithUnionQuery') checkSelectTail(root, options);
  if (root.kind === 'ShowTables') return checkShowTables(root);
  if (root.kind === 'ExistsTableQuery' || root.kind === 'ShowCreateTableQuery') return checkTableName(root.text.split(' ').join('.'), options.access);
  if (root.kind === 'DescribeQuery') {
    for (const child of root.children) walk(child, options.access, root);
    return;
  }
  walk(root, options.access, undefined);
}

function statementName(kind: string): string {
  const name = kind.replace(/Query$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  return name === 'SET' ? 'SET' : `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name} statement`;
}

/** `SELECT … [INTO OUTFILE 'f' [COMPRESSION 'c']] [FORMAT F] [SETTINGS …]`: only FORMAT may follow, and only on /clickhouse. */
function checkSelectTail(root: AstNode, options: GateOptions): void {
  for (const tail of root.children.slice(1)) {
    if (tail.kind === 'Literal') throw new QueryRefusedError('into_outfile', 'INTO OUTFILE writes a file on the gateway host; read the rows from the answer instead');
    if (tail.kind === 'Set') throw settingsRefusal();
    if (tail.kind === 'Identifier' && !options.allowFormatClause) throw new QueryRefusedError('format_clause', 'drop the FORMAT clause: /admin/sql always answers {"rows": [...]} (use /clickhouse for other formats)');
  }
}

function settingsRefusal(): QueryRefusedError {
  return new QueryRefusedError('settings', 'a query may not carry SETTINGS; the gateway fixes the limits analyst queries run with (time, rows, memory, readonly)');
}

function checkExplain(root: AstNode, options: GateOptions): void {
  const [first, ...rest] = root.children;
  if (first?.kind === 'Set' || rest.length > 0) throw settingsRefusal();
  if (first === undefined || (first.kind !== 'SelectWithUnionQuery' && first.kind !== 'SelectIntersectExceptQuery')) {
    throw new QueryRefusedError('reading_statement', `EXPLAIN is allowed of a SELECT only (found ${first === undefined ? 'nothing' : statementName(first.kind)})`);
  }
  checkStatement(first, options);
}

/** SHOW TABLES [FROM db] [LIKE '…'] [FORMAT F]: names of tables only, whatever the database (no rows, no secrets). */
function checkShowTables(root: AstNode): void {
  for (const child of root.children) {
    if (child.kind === 'Set') throw settingsRefusal();
    if (child.kind !== 'Identifier' && child.kind !== 'Literal') throw new QueryRefusedError('construct', `SHOW TABLES with ${child.kind} is not supported here`);
  }
}

/** Refuses the first node that names something this caller may not reach. */
function walk(node: AstNode, access: TableAccess, parent: AstNode | undefined): void {
  switch (node.kind) {
    case 'Set':
      throw settingsRefusal();
    case 'TableIdentifier':
      checkTableName(withoutAlias(node.text), access);
      break;
    case 'Identifier':
      checkQualifiedIdentifier(withoutAlias(node.text), access);
      break;
    case 'Function':
      checkFunction(withoutAlias(node.text), parent?.kind === 'TableExpression');
      break;
    default:
      if (!EXPRESSION_KINDS.has(node.kind)) {
        if (READING_ROOTS.has(node.kind) || /Query$/.test(node.kind)) throw new QueryRefusedError('reading_statement', `${statementName(node.kind)} may not appear inside a query`);
        throw new QueryRefusedError('construct', `the checker does not know the construct "${node.kind}"; rewrite the query without it`);
      }
  }
  for (const child of node.children) walk(child, access, node);
}

function withoutAlias(text: string): string {
  return text.replace(/ \(alias .*\)$/, '');
}

function checkFunction(name: string, isTableFunction: boolean): void {
  if (isTableFunction) {
    if (!PURE_TABLE_FUNCTIONS.has(name)) {
      throw new QueryRefusedError('table_function', `the table function ${name}() is not allowed (it can reach files, the network or other tables); allowed: ${[...PURE_TABLE_FUNCTIONS].join(', ')}`);
    }
    return;
  }
  if (isDeniedFunction(name)) {
    throw new QueryRefusedError('function', `the function ${name}() is not allowed: it reads files, calls out to other services, reveals the host or stalls the engine`);
  }
}

/** Tables of the database only admins read: key hashes, and the migration bookkeeping. */
export const ADMIN_ONLY_TABLES: readonly string[] = ['virtual_keys', 'schema_migrations'];

/**
 * Unqualified names are columns, CTEs or tables of the connection's current database — the engine's
 * empty `default` embedded, but on a ClickHouse server whatever the user's default database is. So an
 * unqualified name of an admin-only table is judged as if it were qualified with every database the
 * caller has: a server user whose default database is `gatehouse` does not open `virtual_keys`.
 */
function checkTableName(name: string, access: TableAccess): void {
  const unquoted = name.replaceAll('`', '');
  if (!unquoted.includes('.')) {
    if (ADMIN_ONLY_TABLES.includes(unquoted)) for (const database of access.databases) if (database !== 'system') checkTableName(`${database}.${unquoted}`, access);
    return;
  }
  if (!access.canRead(unquoted)) throw new QueryRefusedError('table', `${unquoted} is not readable with this token; readable: ${access.describe}`);
}

/** `x IN gatehouse.virtual_keys` names a table through a plain identifier: check names whose first part is a database. */
function checkQualifiedIdentifier(name: string, access: TableAccess): void {
  const parts = name.replaceAll('`', '').split('.');
  if (parts.length < 2) return;
  const database = parts[0] as string;
  if (!access.databases.has(database) && !KNOWN_DATABASES.has(database)) return;
  checkTableName(`${database}.${parts[1] as string}`, access);
}

/** Databases a ClickHouse engine has whatever the deployment: a qualified name starting with one is a table. */
const KNOWN_DATABASES = new Set(['system', 'information_schema', 'INFORMATION_SCHEMA', 'default', '_temporary_and_external_tables']);
