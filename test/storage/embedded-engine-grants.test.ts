import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_ENGINE_GRANTS } from '../../shared/clickhouse/embedded-engine-grants.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/**
 * Issue #14, defence in depth at the engine: even a statement sent on the gateway's own writer connection —
 * past the analyst gate and without `readonly` — cannot read a file, write one or open a connection, because
 * the embedded engine runs as a user without source grants. A loopback listener that every network-touching
 * statement aims at must see no connection; no file may appear.
 */
let gatehouse: TestGatehouse;
let listener: Server;
let connections = 0;
let port = 0;
let outDir: string;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  outDir = mkdtempSync(join(tmpdir(), 'gatehouse-engine-grants-'));
  gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } } });
}, 60_000);

afterAll(async () => {
  await gatehouse?.stop();
  await new Promise((resolve) => listener?.close(resolve));
  rmSync(outDir, { recursive: true, force: true });
});

const at = () => `127.0.0.1:${port}`;
const HOSTILE: Array<[string, () => string]> = [
  ['file() table function on /etc/passwd', () => "SELECT * FROM file('/etc/passwd', 'LineAsString')"],
  ['file() on the gateway config', () => `SELECT * FROM file('${join(gatehouse.dataDir, '..', 'gatehouse.yaml')}', 'LineAsString')`],
  ['filesystem() listing /', () => "SELECT * FROM filesystem('/')"],
  ['INSERT INTO FUNCTION file()', () => `INSERT INTO FUNCTION file('${outDir}/written.csv', 'CSV', 'a UInt8') VALUES (1)`],
  ['sqlite() on a path', () => `SELECT * FROM sqlite('${outDir}/x.db', 't')`],
  ['url()', () => `SELECT * FROM url('http://${at()}/x', 'LineAsString')`],
  ['s3()', () => `SELECT * FROM s3('http://${at()}/bucket/x.csv', 'CSV', 'a String')`],
  ['remote()', () => `SELECT * FROM remote('${at()}', system.one)`],
  ['remoteSecure()', () => `SELECT * FROM remoteSecure('${at()}', system.one)`],
  ['mysql()', () => `SELECT * FROM mysql('${at()}', 'db', 't', 'u', 'p')`],
  ['postgresql()', () => `SELECT * FROM postgresql('${at()}', 'db', 't', 'u', 'p')`],
  ['hdfs()', () => `SELECT * FROM hdfs('hdfs://${at()}/x', 'CSV', 'a String')`],
  ['azureBlobStorage()', () => `SELECT * FROM azureBlobStorage('http://${at()}/x', 'c', 'b', 'CSV')`],
  ['a URL table engine', () => `CREATE TABLE default.exfil (a String) ENGINE = URL('http://${at()}/x', 'CSV')`],
  ['a File table engine', () => "CREATE TABLE default.passwd (a String) ENGINE = File('LineAsString', '/etc/passwd')"],
  ['a dictionary with an HTTP source', () => `CREATE DICTIONARY default.d (k UInt64, v String) PRIMARY KEY k SOURCE(HTTP(url 'http://${at()}/' format 'CSV')) LAYOUT(FLAT()) LIFETIME(0)`],
  ['BACKUP to a file', () => `BACKUP DATABASE gatehouse TO File('${outDir}/backup.zip')`],
  ['SYSTEM statement', () => 'SYSTEM DROP MARK CACHE'],
  ['CREATE USER', () => 'CREATE USER intruder IDENTIFIED WITH no_password'],
];

describe('embedded engine grants (engine-level confinement behind the analyst gate)', () => {
  it('writes the confined users configuration where the engine reads it', () => {
    const users = readFileSync(join(gatehouse.dataDir, 'clickhouse-engine', 'users.xml'), 'utf8');
    expect(users).toContain(`GRANT ${EMBEDDED_ENGINE_GRANTS.join(', ')} ON *.*`);
    expect(users).not.toMatch(/SOURCES|FILE|URL|access_management/);
  });

  it('runs as a user without source, backup, SYSTEM or access-management grants', async () => {
    const grants = await (await gatehouse.clickhouse.query({ query: 'SHOW GRANTS', format: 'TabSeparated' })).text();
    expect(grants).toMatch(/GRANT .*SELECT.*INSERT.* ON \*\.\* TO default/);
    expect(grants).not.toMatch(/SOURCES|FILE|URL|S3|REMOTE|BACKUP|SYSTEM|ACCESS MANAGEMENT|dictGet|CREATE DICTIONARY/);
  });

  for (const [name, sql] of HOSTILE) {
    it(`refuses ${name} at the engine, on the gateway's own writer connection`, async () => {
      const attempt = gatehouse.clickhouse.command({ query: sql() });
      await expect(attempt).rejects.toThrow(/ACCESS_DENIED|Not enough privileges/);
      expect(connections).toBe(0);
      expect(existsSync(join(outDir, 'written.csv'))).toBe(false);
      expect(existsSync(join(outDir, 'backup.zip'))).toBe(false);
    });
  }

  it('still does what the gateway needs: migrations ran, spans are written and read, a table can be detached and attached', async () => {
    const tables = await (await gatehouse.clickhouse.query({ query: "SELECT count() AS n FROM system.tables WHERE database = 'gatehouse'", format: 'JSONEachRow' })).json<{ n: string }>();
    expect(Number(tables[0]?.n)).toBeGreaterThan(5);
    await gatehouse.clickhouse.command({ query: 'DETACH TABLE gatehouse.spans' });
    await gatehouse.clickhouse.command({ query: 'ATTACH TABLE gatehouse.spans' });
    const rows = await (await gatehouse.clickhouse.query({ query: 'SELECT count() AS n FROM gatehouse.spans', format: 'JSONEachRow' })).json<{ n: string }>();
    expect(rows).toHaveLength(1);
  });
});
