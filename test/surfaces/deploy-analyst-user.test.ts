import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_TABLES } from '../../shared/clickhouse/analyst-sql.ts';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';

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
