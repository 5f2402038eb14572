import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ONLY_TABLES, ANALYST_TABLES } from '../../shared/clickhouse/analyst-sql.ts';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/**
 * The analyst token as an attacker (issue #14): every hostile text is refused on /admin/sql AND on /clickhouse,
 * with a 400 naming the rule, and afterwards nothing changed: the same databases, tables and row counts, no
 * file written where INTO OUTFILE pointed, and no connection reached a loopback listener every network-touching
 * table function was aimed at.
 */

let upstream: FakeResponsesUpstream;
let gatehouse: TestGatehouse;
let listener: Server;
let port = 0;
const connections: Socket[] = [];
let outDir: string;
let before: string;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  outDir = mkdtempSync(join(tmpdir(), 'gatehouse-outfile-'));
  upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }] }));
  gatehouse = await startTestGatehouse({
    providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
    extraConfig: { analyst_sql: { max_execution_seconds: 2, max_result_rows: 1000, max_memory_bytes: 64 * 1024 * 1024, max_concurrent: 2 } },
  });
  // A turn, so spans and audit rows exist to be counted (and to be targets).
  const turn = await request(`${gatehouse.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-5.5', input: 'hi' }) });
  await turn.body.arrayBuffer();
  await gatehouse.context.tracing.forceFlush();
  await gatehouse.writer.flush();
  before = await snapshot();
}, 60_000);

afterAll(async () => {
  await gatehouse?.stop();
  await upstream?.close();
  await new Promise((resolve) => listener?.close(resolve));
  rmSync(outDir, { recursive: true, force: true });
});

/** Databases, tables and the row count of every table, read by the gateway's own (writer) connection. */
async function snapshot(): Promise<string> {
  await gatehouse.writer.flush();
  const engine = gatehouse.clickhouse;
  const tables = await (await engine.query({ query: "SELECT database, name, engine FROM system.tables WHERE database NOT IN ('system', 'information_schema', 'INFORMATION_SCHEMA') ORDER BY database, name", format: 'JSONEachRow' })).json<{ database: string; name: string; engine: string }>();
  const counts: string[] = [];
  for (const table of tables.filter((entry) => entry.engine.includes('MergeTree'))) {
    const [row] = await (await engine.query({ query: `SELECT count() AS n FROM ${table.database}.${table.name}`, format: 'JSONEachRow' })).json<{ n: number | string }>();
    counts.push(`${table.database}.${table.name}=${row?.n}`);
  }
  const settings = await (await engine.query({ query: "SELECT getSetting('readonly') AS readonly, getSetting('max_execution_time') AS max_time", format: 'JSONEachRow' })).json();
  return JSON.stringify({ tables: tables.map((table) => `${table.database}.${table.name}`), counts, settings });
}

async function adminSql(query: string, token = TEST_ANALYST_TOKEN): Promise<{ status: number; body: { rows?: unknown[]; error?: { message: string; code: string } } }> {
  const response = await request(`${gatehouse.url}/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return { status: response.statusCode, body: (await response.body.json()) as never };
}

async function clickhouseHttp(query: string, token = TEST_ANALYST_TOKEN): Promise<{ status: number; text: string }> {
  const response = await request(`${gatehouse.url}/clickhouse/`, { method: 'POST', headers: { 'x-clickhouse-user': 'ana', 'x-clickhouse-key': token }, body: query });
  return { status: response.statusCode, text: await response.body.text() };
}

type Case = [name: string, sql: () => string, rule: RegExp];

const url = () => `http://127.0.0.1:${port}`;
const host = () => `127.0.0.1:${port}`;

/** One row per SQL row of the table, then more of the same kinds. */
const HOSTILE: Case[] = [
  // Several statements, in every quoting and comment form.
  ['two SELECTs', () => 'SELECT 1; SELECT 2', /one_statement/],
  ['CREATE TABLE then SELECT', () => 'CREATE TABLE gatehouse.pwn (a UInt8) ENGINE = Memory; SELECT 1', /one_statement/],
  // The engine reads everything after VALUES as data, so this one is one INSERT to ClickHouse's parser.
  ['INSERT into audit_log then SELECT', () => "INSERT INTO gatehouse.audit_log (seq, action) VALUES (999, 'key.created'); SELECT 1", /one_statement|reading_statement/],
  ['ALTER … DELETE on audit_log then SELECT', () => 'ALTER TABLE gatehouse.audit_log DELETE WHERE seq >= 1; SELECT 1', /one_statement/],
  ['TRUNCATE spans then SELECT', () => 'TRUNCATE TABLE gatehouse.spans; SELECT 1', /one_statement/],
  ['statement after a block comment holding ;', () => 'SELECT 1 /* ; */; DROP TABLE gatehouse.spans', /one_statement/],
  ['statement after a string holding ;', () => "SELECT ';' AS a; DROP TABLE gatehouse.spans", /one_statement/],
  ['statement after a doubled-quote string', () => "SELECT 'it''s;'; DELETE FROM gatehouse.spans WHERE 1", /one_statement/],
  ['statement after a backslash-escaped quote', () => "SELECT 'a\\';'; DROP TABLE gatehouse.spans", /one_statement/],
  ['statement after a back-quoted identifier holding ;', () => 'SELECT 1 AS `a;b`; DROP TABLE gatehouse.spans', /one_statement/],
  ['statement after a double-quoted identifier holding ;', () => 'SELECT 1 AS "x;y"; TRUNCATE TABLE gatehouse.audit_log', /one_statement/],
  ['statement after a -- comment line', () => 'SELECT 1 -- note\n; DROP TABLE gatehouse.spans', /one_statement/],
  ['statement after a # comment line', () => 'SELECT 1 # note\n; DROP DATABASE gatehouse', /one_statement/],
  ['statement after a heredoc string', () => 'SELECT $$x;y$$; TRUNCATE TABLE gatehouse.spans', /one_statement/],
  // Statements that write, change settings or the server.
  ['DROP TABLE', () => 'DROP TABLE gatehouse.spans', /reading_statement/],
  ['INSERT … SELECT into policy_versions', () => 'INSERT INTO gatehouse.policy_versions SELECT * FROM gatehouse.policy_versions', /reading_statement/],
  ['ALTER … UPDATE the audit chain', () => "ALTER TABLE gatehouse.audit_log UPDATE hash = '' WHERE 1", /reading_statement/],
  ['SET readonly = 0', () => 'SET readonly = 0', /reading_statement/],
  ['SET max_execution_time = 0', () => 'SET max_execution_time = 0', /reading_statement/],
  ['KILL QUERY', () => 'KILL QUERY WHERE 1', /reading_statement/],
  ['OPTIMIZE FINAL', () => 'OPTIMIZE TABLE gatehouse.spans FINAL', /reading_statement/],
  ['RENAME TABLE', () => 'RENAME TABLE gatehouse.spans TO gatehouse.spans_gone', /reading_statement/],
  ['DETACH TABLE', () => 'DETACH TABLE gatehouse.audit_log', /reading_statement/],
  ['SYSTEM statement', () => 'SYSTEM DROP MARK CACHE', /reading_statement/],
  ['CREATE USER', () => "CREATE USER mallory IDENTIFIED WITH plaintext_password BY 'x'", /reading_statement/],
  ['USE system', () => 'USE system', /reading_statement/],
  ['BACKUP to a file', () => `BACKUP DATABASE gatehouse TO File('${outDir}/backup.zip')`, /reading_statement/],
  ['write hidden in EXPLAIN', () => 'EXPLAIN INSERT INTO gatehouse.spans SELECT * FROM gatehouse.spans', /reading_statement/],
  ['write hidden in EXPLAIN AST', () => 'EXPLAIN AST ALTER TABLE gatehouse.audit_log DELETE WHERE 1', /reading_statement/],
  ['write hidden in WITH', () => 'WITH x AS (SELECT 1) INSERT INTO gatehouse.spans SELECT * FROM x', /syntax|reading_statement/],
  ['write hidden in a subquery', () => 'SELECT * FROM (INSERT INTO gatehouse.spans SELECT * FROM gatehouse.spans)', /syntax/],
  // Files.
  ['file() on /etc/passwd', () => "SELECT * FROM file('/etc/passwd', 'LineAsString')", /table_function/],
  ['file() on the gateway config', () => `SELECT * FROM file('${gatehouse.dataDir}/../gatehouse.yaml', 'LineAsString')`, /table_function/],
  ['file() on the system private key', () => `SELECT * FROM file('${gatehouse.dataDir}/system-key.pem', 'LineAsString')`, /table_function/],
  ['file() on the environment', () => "SELECT * FROM file('/proc/self/environ', 'RawBLOB')", /table_function/],
  ['scalar file()', () => "SELECT file('/etc/passwd')", /function/],
  ['file() inside a WITH', () => "WITH leak AS (SELECT * FROM file('/etc/passwd', 'LineAsString')) SELECT * FROM leak", /table_function/],
  ['file() inside IN (subquery)', () => "SELECT count() FROM gatehouse.spans WHERE request_id IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))", /table_function/],
  ['filesystem() listing', () => "SELECT * FROM filesystem('/etc')", /table_function/],
  ['INTO OUTFILE', () => `SELECT * FROM gatehouse.spans INTO OUTFILE '${outDir}/spans.tsv'`, /into_outfile/],
  ['INTO OUTFILE with compression and format', () => `SELECT 1 INTO OUTFILE '${outDir}/one.gz' COMPRESSION 'gzip' FORMAT CSV`, /into_outfile/],
  ['INTO OUTFILE APPEND', () => `SELECT 1 INTO OUTFILE '${outDir}/append.tsv' APPEND`, /into_outfile/],
  ['input()', () => "SELECT * FROM input('a String')", /table_function/],
  ['executable()', () => "SELECT * FROM executable('cat /etc/passwd', 'LineAsString', 'a String')", /table_function/],
  ['sqlite()', () => `SELECT * FROM sqlite('${outDir}/x.db', 't')`, /table_function/],
  // Network: every table function that can reach a host, aimed at the loopback listener.
  ['url()', () => `SELECT * FROM url('${url()}/', 'CSV', 'a String')`, /table_function/],
  ['url() without a structure (schema inference connects)', () => `SELECT * FROM url('${url()}/x.csv')`, /table_function/],
  ['urlCluster()', () => `SELECT * FROM urlCluster('default', '${url()}/x.csv', 'CSV', 'a String')`, /table_function/],
  ['s3()', () => `SELECT * FROM s3('${url()}/bucket/x.csv', 'CSV', 'a String')`, /table_function/],
  ['s3Cluster()', () => `SELECT * FROM s3Cluster('default', '${url()}/bucket/x.csv', 'CSV', 'a String')`, /table_function/],
  ['gcs()', () => `SELECT * FROM gcs('${url()}/bucket/x.csv', 'CSV', 'a String')`, /table_function/],
  ['oss()', () => `SELECT * FROM oss('${url()}/bucket/x.csv', 'CSV', 'a String')`, /table_function/],
  ['cosn()', () => `SELECT * FROM cosn('${url()}/bucket/x.csv', 'CSV', 'a String')`, /table_function/],
  ['azureBlobStorage()', () => `SELECT * FROM azureBlobStorage('${url()}/devstoreaccount1', 'c', 'x.csv', 'CSV', 'a String')`, /table_function/],
  ['remote()', () => `SELECT * FROM remote('${host()}', system.one)`, /table_function/],
  ['remoteSecure()', () => `SELECT * FROM remoteSecure('${host()}', system.one)`, /table_function/],
  ['cluster()', () => 'SELECT * FROM cluster(default, system.one)', /table_function/],
  ['clusterAllReplicas()', () => 'SELECT * FROM clusterAllReplicas(default, system.one)', /table_function/],
  ['mysql()', () => `SELECT * FROM mysql('${host()}', 'db', 't', 'u', 'p')`, /table_function/],
  ['postgresql()', () => `SELECT * FROM postgresql('${host()}', 'db', 't', 'u', 'p')`, /table_function/],
  ['mongodb()', () => `SELECT * FROM mongodb('${host()}', 'db', 't', 'u', 'p', 'a String')`, /table_function/],
  ['redis()', () => `SELECT * FROM redis('${host()}', 'k', 'k String, v String')`, /table_function/],
  ['hdfs()', () => `SELECT * FROM hdfs('hdfs://${host()}/x.csv', 'CSV', 'a String')`, /table_function/],
  ['jdbc()', () => `SELECT * FROM jdbc('jdbc:mysql://${host()}/db', 't')`, /table_function/],
  ['odbc()', () => "SELECT * FROM odbc('DSN=x', 'db', 't')", /table_function/],
  ['iceberg()', () => `SELECT * FROM iceberg('${url()}/warehouse/t')`, /table_function/],
  ['deltaLake()', () => `SELECT * FROM deltaLake('${url()}/lake/t')`, /table_function/],
  ['hudi()', () => `SELECT * FROM hudi('${url()}/lake/t')`, /table_function/],
  ['paimon()', () => `SELECT * FROM paimon('${url()}/lake/t')`, /table_function/],
  ['prometheusQuery()', () => `SELECT * FROM prometheusQuery('${url()}', 'up')`, /table_function/],
  ['url() hidden in a JOIN', () => `SELECT * FROM gatehouse.spans AS s JOIN (SELECT * FROM url('${url()}/', 'CSV', 'a String')) AS u ON 1`, /table_function/],
  ['s3() hidden in WITH', () => `WITH x AS (SELECT * FROM s3('${url()}/b/x.csv', 'CSV', 'a String')) SELECT * FROM x`, /table_function/],
  ['DESCRIBE url() (schema inference connects)', () => `DESCRIBE TABLE url('${url()}/x.csv', 'CSV')`, /table_function/],
  ['EXPLAIN of a url() read', () => `EXPLAIN PIPELINE SELECT * FROM url('${url()}/x.csv', 'CSV', 'a String')`, /table_function/],
  ['LLM call from SQL', () => "SELECT aiGenerate('say hi')", /function/],
  ['dictionary lookup', () => "SELECT dictGet('gatehouse.d', 'a', toUInt64(1))", /function/],
  ['dictionary() table function', () => "SELECT * FROM dictionary('gatehouse.d')", /table_function/],
  // Secrets and the host.
  ['key hashes', () => 'SELECT hash FROM gatehouse.virtual_keys', /table/],
  ['key hashes with FINAL and an alias', () => 'SELECT k.* FROM gatehouse.virtual_keys AS k FINAL', /table/],
  ['key hashes through a JOIN', () => 'SELECT s.request_id, k.key_sha256 FROM gatehouse.spans AS s JOIN gatehouse.virtual_keys AS k ON s.key_id = k.id', /table/],
  ['key hashes through IN <table>', () => "SELECT 'x' IN gatehouse.virtual_keys", /table/],
  ['key hashes through merge()', () => "SELECT * FROM merge('gatehouse', '^virtual')", /table_function/],
  ['key hashes through back-quoted names', () => 'SELECT * FROM `gatehouse`.`virtual_keys`', /table/],
  // On a ClickHouse server whose user defaults to the gatehouse database, an unqualified name would resolve there.
  ['key hashes through an unqualified name', () => 'SELECT hash FROM virtual_keys', /table/],
  ['DESCRIBE the keys table', () => 'DESCRIBE TABLE gatehouse.virtual_keys', /table/],
  ['running queries (other users\' SQL, inserted rows)', () => 'SELECT query FROM system.processes', /table/],
  ['query log', () => 'SELECT query FROM system.query_log', /table/],
  ['server settings (paths)', () => 'SELECT * FROM system.server_settings', /table/],
  ['disks (paths)', () => 'SELECT * FROM system.disks', /table/],
  ['users', () => 'SELECT * FROM system.users', /table/],
  ['host name', () => 'SELECT hostName()', /function/],
  ['server path setting', () => "SELECT getServerSetting('path')", /function/],
  ['forged AST line in an identifier', () => 'SELECT 1 AS `x\n TableIdentifier gatehouse.spans`', /construct/],
  // Settings that would lift the limits.
  ['SETTINGS max_execution_time = 0', () => 'SELECT count() FROM numbers(10) SETTINGS max_execution_time = 0', /settings/],
  ['SETTINGS readonly = 0', () => 'SELECT 1 SETTINGS readonly = 0', /settings/],
  ['SETTINGS in a subquery', () => 'SELECT * FROM (SELECT 1 SETTINGS max_memory_usage = 0)', /settings/],
  ['SETTINGS after FORMAT', () => 'SELECT 1 FORMAT TSV SETTINGS max_result_rows = 0', /settings|format_clause/],
  ['sleep()', () => 'SELECT sleep(3)', /function/],
  ['sleepEachRow()', () => 'SELECT sleepEachRow(1) FROM numbers(100)', /function/],
];

/** Huge and slow queries are not refused by shape: the limits stop them in the engine. */
const STOPPED_BY_LIMITS: Case[] = [
  ['a scan that would run for hours', () => 'SELECT sum(cityHash64(number)) FROM numbers(1000000000000)', /TIMEOUT_EXCEEDED|Timeout exceeded|cancelled/i],
  ['a result past max_result_rows', () => 'SELECT number FROM numbers(1000000)', /Limit for result exceeded|TOO_MANY_ROWS/i],
  ['a query past max_memory_bytes', () => 'SELECT groupArray(number) FROM numbers(100000000)', /Memory limit|MEMORY_LIMIT_EXCEEDED|TIMEOUT_EXCEEDED|Timeout exceeded/i],
];

describe('analyst SQL sandbox: hostile SQL from an analyst token', () => {
  it('has at least 40 hostile texts, with a case for every network- or host-touching table function the engine has', async () => {
    expect(HOSTILE.length + STOPPED_BY_LIMITS.length).toBeGreaterThanOrEqual(40);
    const { rows } = (await adminSql("SELECT name FROM system.table_functions ORDER BY name")).body as { rows: { name: string }[] };
    const reaching = rows.map((row) => row.name).filter((name) => /^(url|s3|gcs|oss|cosn|azure|remote|cluster|mysql|postgresql|mongodb|redis|hdfs|jdbc|odbc|iceberg|deltaLake|hudi|paimon|prometheus|file|filesystem|executable|input|sqlite|merge|dictionary)/.test(name));
    const covered = HOSTILE.map(([, sql]) => sql());
    const missing = reaching.filter((name) => !/Cluster$|Local$|S3$|Azure$|HDFS$|Secure$|AllReplicas$|UUID$|Indexes$|Index$|Projection$|TextIndex$|Range$/.test(name) && !covered.some((text) => text.includes(`${name}(`)));
    expect(missing).toEqual([]);
  });

  for (const [name, sql, rule] of HOSTILE) {
    it(`refuses ${name}, on /admin/sql and /clickhouse, and nothing changes`, async () => {
      const viaApi = await adminSql(sql());
      expect(viaApi.status, JSON.stringify(viaApi.body)).toBe(400);
      expect(viaApi.body.error?.message).toMatch(/^gatehouse: query refused \(/);
      expect(viaApi.body.error?.message).toMatch(new RegExp(`query refused \\((${rule.source})\\)`));
      const viaClickhouse = await clickhouseHttp(sql());
      expect(viaClickhouse.status, viaClickhouse.text).toBe(400);
      expect(viaClickhouse.text).toMatch(new RegExp(`query refused \\((${rule.source})\\)`));
      expect(await snapshot()).toBe(before);
      expect(readdirSync(outDir)).toEqual([]);
      expect(connections.length, 'a connection reached the loopback listener').toBe(0);
    });
  }

  for (const [name, sql, expected] of STOPPED_BY_LIMITS) {
    it(`stops ${name} at the analyst limits, and nothing changes`, async () => {
      const started = Date.now();
      const viaApi = await adminSql(sql());
      expect(viaApi.status, JSON.stringify(viaApi.body)).toBe(400);
      expect(viaApi.body.error?.message).toMatch(expected);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await snapshot()).toBe(before);
      expect(connections.length).toBe(0);
    });
  }
});

describe('analyst SQL sandbox: what analysts may do', () => {
  it('classifies every table and view of the database as analyst-readable or admin-only', async () => {
    const rows = await (await gatehouse.clickhouse.query({ query: "SELECT name FROM system.tables WHERE database = 'gatehouse' ORDER BY name", format: 'JSONEachRow' })).json<{ name: string }>();
    const unclassified = rows.map((row) => row.name).filter((name) => !ANALYST_TABLES.includes(name) && !ADMIN_ONLY_TABLES.includes(name));
    expect(unclassified, 'list the new table in ANALYST_TABLES or ADMIN_ONLY_TABLES (shared/clickhouse/analyst-sql.ts)').toEqual([]);
  });

  it('runs the reading queries analysts and the console use', async () => {
    const queries = [
      'SELECT count() AS n FROM gatehouse.spans',
      'WITH daily AS (SELECT toDate(ts) AS day, sum(cost_usd) AS cost FROM gatehouse.spans GROUP BY day) SELECT * FROM daily ORDER BY day',
      "SELECT developer, row_number() OVER (PARTITION BY cost_center ORDER BY ts) AS n FROM gatehouse.spans WHERE request_id IN (SELECT request_id FROM gatehouse.spans WHERE ts >= today() - 7) LIMIT 10",
      'SELECT toString(action) AS action FROM gatehouse.audit_log ORDER BY seq DESC LIMIT 5',
      'SELECT * FROM gatehouse.eval_scores FINAL LIMIT 1',
      'SELECT version, status FROM gatehouse.policy_versions FINAL',
      'SELECT * FROM gatehouse.request_audit LIMIT 1',
      'SELECT number FROM numbers(3) UNION ALL SELECT * FROM values(\'a UInt64\', 7)',
      'SHOW TABLES FROM gatehouse',
      'DESCRIBE TABLE gatehouse.spans',
      'EXPLAIN SELECT count() FROM gatehouse.spans',
      "SELECT name FROM system.tables WHERE database = 'gatehouse'",
      'SELECT 1 AS one; ',
    ];
    for (const query of queries) {
      const answer = await adminSql(query);
      expect(answer.status, `${query}\n${JSON.stringify(answer.body)}`).toBe(200);
    }
    const spans = await adminSql('SELECT count() AS n FROM gatehouse.spans');
    expect(Number((spans.body.rows as { n: number | string }[])[0]?.n)).toBeGreaterThan(0);
  });

  it('lets an admin token read key hashes, never an analyst token', async () => {
    expect((await adminSql('SELECT count() AS n FROM gatehouse.virtual_keys FINAL', TEST_ADMIN_TOKEN)).status).toBe(200);
    const refused = await adminSql('SELECT count() AS n FROM gatehouse.virtual_keys FINAL');
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toMatch(/query refused \(table\): gatehouse\.virtual_keys is not readable with this token/);
  });

  it('answers /clickhouse in the format asked for, with query parameters bound by the engine', async () => {
    const response = await request(`${gatehouse.url}/clickhouse/?param_n=3`, { method: 'POST', headers: { 'x-clickhouse-key': TEST_ANALYST_TOKEN }, body: 'SELECT number FROM numbers({n:UInt8}) FORMAT CSV' });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('0\n1\n2\n');
  });
});

describe('analyst SQL concurrency cap', () => {
  it('lets a query past the cap wait for a slot, refuses it when none frees in time, and drops a waiter whose client left', async () => {
    const { ConcurrencyCap, AnalystSqlBusyError, AnalystQueryFailedError } = await import('../../shared/clickhouse/analyst-sql.ts');
    const cap = new ConcurrencyCap(1, 60_000);
    const first = await cap.acquire();
    const waiting = cap.acquire();
    first();
    const second = await waiting;
    expect(cap.count()).toBe(1);
    const leaving = new AbortController();
    const abandoned = cap.acquire(leaving.signal);
    leaving.abort();
    await expect(abandoned).rejects.toBeInstanceOf(AnalystQueryFailedError);
    second();
    expect(cap.count()).toBe(0);
    const impatient = new ConcurrencyCap(1, 0);
    const held = await impatient.acquire();
    await expect(impatient.acquire()).rejects.toBeInstanceOf(AnalystSqlBusyError);
    held();
  });
});
