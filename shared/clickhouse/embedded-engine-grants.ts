import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

/**
 * Defence in depth for the embedded engine (issue #14): chDB is clickhouse-local, whose built-in user holds
 * every grant, `SOURCES` included — so a statement that got past the analyst gate could read any file the
 * gateway can (`file()`, `filesystem()`, `sqlite()`), write one (`INSERT INTO FUNCTION file`), or connect
 * anywhere (`url()`, `s3()`, `remote()`, `mysql()`, a `URL`/`File` table engine). The engine is started with a
 * users configuration whose only user holds what Gatehouse itself uses — reading, inserting, migrating, the
 * test suite's outage drills (`DETACH`) and `KILL QUERY` — and no source, backup, dictionary, `SYSTEM` or
 * access-management grant. The engine then refuses those itself, whatever connection sends them.
 *
 * Measured limits of chDB 3.4 (it is clickhouse-local): the scalar `file()` function and `INTO OUTFILE`
 * check no grant and are not confined to `user_files_path` (the engine confines them only when it runs as a
 * server); per-connection users (`--user`) and SQL-created users are not supported. Those stay the gate's
 * job (docs/SECURITY.md). `user_files_path` and `user_scripts_path` still point at empty directories, so a
 * relative path or an `executable()` script name finds nothing.
 */
export const EMBEDDED_ENGINE_GRANTS = [
  'SHOW',
  'SELECT',
  'INSERT',
  'ALTER',
  'CREATE DATABASE',
  'CREATE TABLE',
  'CREATE VIEW',
  'DROP DATABASE',
  'DROP TABLE',
  'DROP VIEW',
  'TRUNCATE',
  'OPTIMIZE',
  'KILL QUERY',
] as const;

/** Writes the engine's configuration under `<dataDir>/clickhouse-engine/` and returns the `--config-file` path. */
export function writeEmbeddedEngineConfig(dataDir: string): string {
  const folder = resolve(dataDir, 'clickhouse-engine');
  const emptyUserFiles = join(folder, 'user-files');
  const emptyUserScripts = join(folder, 'user-scripts');
  for (const directory of [folder, emptyUserFiles, emptyUserScripts]) mkdirSync(directory, { recursive: true });
  const usersPath = join(folder, 'users.xml');
  writeFileSync(
    usersPath,
    [
      '<clickhouse>',
      '  <!-- Written by Gatehouse at every start (shared/clickhouse/embedded-engine-grants.ts); edits are overwritten. -->',
      '  <users><default>',
      '    <password></password>',
      '    <networks><ip>::/0</ip></networks>',
      '    <profile>default</profile><quota>default</quota>',
      `    <grants><query>GRANT ${EMBEDDED_ENGINE_GRANTS.join(', ')} ON *.*</query></grants>`,
      '  </default></users>',
      '  <profiles><default></default></profiles>',
      '  <quotas><default></default></quotas>',
      '</clickhouse>',
      '',
    ].join('\n'),
  );
  const configPath = join(folder, 'config.xml');
  writeFileSync(
    configPath,
    [
      '<clickhouse>',
      `  <users_config>${xmlText(usersPath)}</users_config>`,
      `  <user_files_path>${xmlText(emptyUserFiles)}/</user_files_path>`,
      `  <user_scripts_path>${xmlText(emptyUserScripts)}/</user_scripts_path>`,
      '</clickhouse>',
      '',
    ].join('\n'),
  );
  return configPath;
}

interface ChdbSession {
  close(): void;
}
type SessionConstructor = new (path: string, options?: { connectionArgs?: string[] }) => ChdbSession;

/**
 * Starts the engine at `enginePath` with the confined configuration, before any other connection opens it:
 * chDB runs one engine per process and takes its configuration from the first connection. The returned
 * session holds the engine; close it after the last other connection closed.
 */
export function openConfinedEngine(enginePath: string, dataDir: string): ChdbSession {
  const Session = createRequire(import.meta.url)('chdb').Session as SessionConstructor;
  return new Session(enginePath, { connectionArgs: [`--config-file=${writeEmbeddedEngineConfig(dataDir)}`] });
}

function xmlText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
