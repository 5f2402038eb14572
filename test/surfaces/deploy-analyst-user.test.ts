import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_TABLES } from '../../shared/clickhouse/analyst-sql.ts';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';

const run = promisify(execFile);
const DEPLOY = readFileSync(resolve(import.meta.dirname, '../../docs/DEPLOY.md'), 'utf8');
const SECTION = DEPLOY.slice(DEPLOY.indexOf('## Analyst user'));
const SQL = /```sql\n([\s\S]*?)```/.exec(SECTION)?.[1] ?? '';
const STATEMENTS = SQL.split(/;\s*\n/).map((statement) => statement.trim().replace(/;$/, '')).filter((statement) => statement.length > 0);

let folder: string;
let engine: ClickHouseClient;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-sql-'));
  engine = await createClickHouse({ url: 'embedded', database: 'gatehouse', dataDir: folder });
});

afterAll(async () => {
  await engine?.close();
  rmSync(folder, { recursive: true, force: true });
});

/** The embedded engine has no user directory to create users in; its parser is the server's, so it checks the SQL. */
describe('docs/DEPLOY.md: the dedicated analyst user for ClickHouse server mode', () => {
  it('is SQL ClickHouse parses, one statement at a time', async () => {
    expect(STATEMENTS.length).toBeGreaterThan(5);
    for (const statement of STATEMENTS) {
      const result = await engine.query({ query: 'SELECT formatQuery({q:String}) AS q', query_params: { q: statement }, format: 'JSONEachRow' });
      expect((await result.json<{ q: string }>())[0]?.q, statement).toBeTruthy();
    }
  });

  it('grants SELECT on exactly the analyst tables and views, and nothing else', () => {
    const grants = STATEMENTS.filter((statement) => /^GRANT /.test(statement));
    const selects = grants.map((grant) => /^GRANT SELECT ON gatehouse\.(\w+) TO gatehouse_analyst_reader$/.exec(grant)?.[1]).filter((table): table is string => table !== undefined);
    expect([...selects].sort()).toEqual([...ANALYST_TABLES].sort());
    const others = grants.filter((grant) => !/^GRANT SELECT ON gatehouse\.\w+ TO gatehouse_analyst_reader$/.test(grant));
    expect(others).toEqual(['GRANT gatehouse_analyst_reader TO gatehouse_analyst']);
    expect(SQL).not.toMatch(/\b(FILE|URL|S3|REMOTE|CREATE TABLE|INSERT|ALTER|SOURCES|ALL)\b/);
  });

  it('pins readonly and caps the limits the gateway sends', () => {
    expect(SQL).toMatch(/readonly = 2 CONST/);
    expect(SQL).toMatch(/max_execution_time = 30 MAX 30/);
    expect(SQL).toMatch(/allow_ddl = 0 CONST/);
  });
});

/** DEPLOY.md's profile as a users.xml profile: `name = value [CONST | MAX m | MIN m]` → a setting and its constraint. */
function profileXml(): string {
  const profile = /CREATE SETTINGS PROFILE IF NOT EXISTS gatehouse_analyst SETTINGS([\s\S]*)$/.exec(STATEMENTS.find((statement) => statement.startsWith('CREATE SETTINGS PROFILE')) ?? '')?.[1] ?? '';
  const settings: string[] = [];
  const constraints: string[] = [];
  for (const entry of profile.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(\w+) = (\S+)(?: (CONST|MAX|MIN)(?: (\S+))?)?$/.exec(entry);
    if (!match) throw new Error(`unreadable profile entry: ${entry}`);
    const [, name, value, kind, bound] = match;
    settings.push(`<${name}>${value}</${name}>`);
    if (kind === 'CONST') constraints.push(`<${name}><const/></${name}>`);
    else if (kind) constraints.push(`<${name}><${kind.toLowerCase()}>${bound}</${kind.toLowerCase()}></${name}>`);
  }
  return `<gatehouse_analyst>${settings.join('')}<constraints>${constraints.join('')}</constraints></gatehouse_analyst>`;
}

/**
 * Test-drive of the grants on ClickHouse's own access control. chDB cannot run `CREATE USER`/`CREATE ROLE`
 * (clickhouse-local has no writable access storage, measured), so the engine is started with a users.xml
 * whose only user holds exactly the role's `GRANT` statements and the profile above; everything else in
 * DEPLOY.md is checked as SQL by the tests before. The engine's access checks are the server's.
 */
describe('docs/DEPLOY.md grants, enforced by a real ClickHouse engine', () => {
  let driveFolder: string;
  let answers: Array<{ ok: boolean; text: string }> = [];
  let listener: Server;
  let connections = 0;
  const CHILD = resolve(import.meta.dirname, 'helpers/deploy-analyst-engine.ts');
  const READS = ['SELECT count() FROM gatehouse.spans', 'SELECT count() FROM gatehouse.audit_log', 'SELECT * FROM gatehouse.quality_by_model_daily LIMIT 1', 'SELECT * FROM gatehouse.cost_by_cost_center_daily LIMIT 1'];
  const at = () => `127.0.0.1:${(listener.address() as { port: number }).port}`;
  const REFUSED: Array<[string, () => string, RegExp]> = [
    ['key hashes', () => 'SELECT key_sha256 FROM gatehouse.virtual_keys', /ACCESS_DENIED|Not enough privileges/],
    ['file()', () => "SELECT * FROM file('/etc/passwd', 'LineAsString')", /ACCESS_DENIED|Not enough privileges/],
    ['url()', () => `SELECT * FROM url('http://${at()}/x', 'LineAsString')`, /ACCESS_DENIED|Not enough privileges/],
    ['s3()', () => `SELECT * FROM s3('http://${at()}/bucket/x.csv', 'CSV', 'a String')`, /ACCESS_DENIED|Not enough privileges/],
    ['remote()', () => `SELECT * FROM remote('${at()}', system.one)`, /ACCESS_DENIED|Not enough privileges/],
    ['postgresql()', () => `SELECT * FROM postgresql('${at()}', 'd', 't', 'u', 'p')`, /ACCESS_DENIED|Not enough privileges/],
    ['INSERT into audit_log', () => "INSERT INTO gatehouse.audit_log (seq, action) VALUES (999, 'key.created')", /readonly|READONLY|ACCESS_DENIED|Not enough privileges/],
    ['ALTER … DELETE', () => 'ALTER TABLE gatehouse.audit_log DELETE WHERE 1', /readonly|READONLY|ACCESS_DENIED|Not enough privileges/],
    ['TRUNCATE', () => 'TRUNCATE TABLE gatehouse.spans', /readonly|READONLY|ACCESS_DENIED|Not enough privileges/],
    ['CREATE TABLE', () => 'CREATE TABLE gatehouse.pwn (a UInt8) ENGINE = Memory', /readonly|READONLY|ACCESS_DENIED|Not enough privileges|DDL/],
    ['readonly = 0', () => 'SET readonly = 0', /readonly|READONLY|SETTING_CONSTRAINT_VIOLATION|should not be changed/],
    ['a time limit above the cap', () => 'SELECT 1 SETTINGS max_execution_time = 3600', /SETTING_CONSTRAINT_VIOLATION|shouldn't be greater|should not be greater/],
    ['allow_ddl = 1', () => 'SET allow_ddl = 1', /SETTING_CONSTRAINT_VIOLATION|should not be changed|QUERY_IS_PROHIBITED/],
  ];

  beforeAll(async () => {
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((done) => listener.listen(0, '127.0.0.1', done));
    driveFolder = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-drive-'));
    await run(process.execPath, [CHILD, 'setup', driveFolder], { timeout: 60_000 });
    const grants = STATEMENTS.filter((statement) => /^GRANT SELECT ON /.test(statement)).map((grant) => `<query>${grant.replace(/ TO \w+$/, '')}</query>`);
    const users = join(driveFolder, 'analyst-users.xml');
    writeFileSync(users, `<clickhouse><users><default><password></password><networks><ip>::/0</ip></networks><profile>gatehouse_analyst</profile><quota>default</quota><grants>${grants.join('')}</grants></default></users><profiles><default></default>${profileXml()}</profiles><quotas><default></default></quotas></clickhouse>`);
    const config = join(driveFolder, 'analyst-config.xml');
    writeFileSync(config, `<clickhouse><users_config>${users}</users_config></clickhouse>`);
    const queries = [...READS, ...REFUSED.map(([, sql]) => sql())];
    const child = execFile(process.execPath, [CHILD, 'analyst', driveFolder, config], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    child.stdin?.end(JSON.stringify(queries));
    const stdout = await new Promise<string>((done, fail) => {
      let text = '';
      child.stdout?.on('data', (chunk) => (text += chunk));
      child.on('error', fail);
      child.on('exit', (code) => (code === 0 ? done(text) : fail(new Error(`analyst engine exited ${code}`))));
    });
    answers = JSON.parse(stdout) as typeof answers;
  }, 150_000);

  afterAll(async () => {
    await new Promise((done) => listener?.close(done));
    if (driveFolder) rmSync(driveFolder, { recursive: true, force: true });
  });

  it('lets the analyst read the analyst tables and views', () => {
    READS.forEach((sql, index) => expect(answers[index], sql).toMatchObject({ ok: true }));
    expect(answers[0]?.text.trim()).toBe('1');
  });

  it.each(REFUSED.map(([name, , rule], index) => [name, rule, index] as const))('refuses %s, and no connection leaves the engine', (_name, rule, index) => {
    const answer = answers[READS.length + index];
    expect(answer?.ok).toBe(false);
    expect(answer?.text).toMatch(rule);
    expect(connections).toBe(0);
  });
});
