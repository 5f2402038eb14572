/**
 * Child process for test/surfaces/deploy-analyst-user.test.ts. chDB runs one engine per process and takes
 * its users configuration from the first connection, so each mode runs alone:
 *   setup DATA_DIR            — the gateway's own migrations and one row in spans and virtual_keys
 *   analyst DATA_DIR CONFIG   — the engine started with CONFIG (the analyst user's grants and profile);
 *                               reads a JSON list of SQL texts on stdin, prints one JSON answer per text
 */
import { createRequire } from 'node:module';
import { createClickHouse } from '../../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../../shared/clickhouse/migrate.ts';

const [mode, dataDir, configFile] = process.argv.slice(2);

async function setup(): Promise<void> {
  const client = await createClickHouse({ url: 'embedded', database: 'gatehouse', dataDir: dataDir as string });
  await migrate(client, 'gatehouse');
  await client.command({ query: "INSERT INTO gatehouse.spans (span_id, cost_center, developer, requested_model) VALUES ('s1', 'platform', 'alice', 'gpt-5.5')" });
  await client.command({ query: "INSERT INTO gatehouse.virtual_keys (id, key_sha256, developer, cost_center) VALUES ('k1', 'sha256-of-a-secret', 'alice', 'platform')" });
  await client.close();
}

async function analyst(): Promise<void> {
  const Session = createRequire(import.meta.url)('chdb').Session as new (path: string, options: { connectionArgs: string[] }) => { queryAsync(sql: string, options: { format: string }): Promise<{ text(): string }>; close(): void };
  const session = new Session(`${dataDir}/clickhouse`, { connectionArgs: [`--config-file=${configFile}`] });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const answers: Array<{ ok: boolean; text: string }> = [];
  for (const sql of JSON.parse(Buffer.concat(chunks).toString('utf8')) as string[]) {
    try {
      answers.push({ ok: true, text: (await session.queryAsync(sql, { format: 'TSV' })).text() });
    } catch (error) {
      answers.push({ ok: false, text: (error as Error).message });
    }
  }
  session.close();
  process.stdout.write(JSON.stringify(answers));
}

await (mode === 'setup' ? setup() : analyst());
