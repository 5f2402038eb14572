import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// gateway/policy/ is the pure decision (DESIGN "Decide — a pure function"; STYLE §1): the I/O of
// policies lives in shared/policy-store/. This guard follows relative imports transitively, so a
// pure-looking helper that pulls in a store (or load-config's file reading) is caught too.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const POLICY_DIR = join(ROOT, 'gateway/policy');

/** Packages and built-ins that reach the disk, the network, a database or a queue. */
const IO_MODULES = [
  /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dgram|dns|child_process|cluster|worker_threads)$/,
  /^(redis|ioredis|undici|chdb|bullmq|jose|fastify)(\/.*)?$/,
  /^@clickhouse\//,
  /^@fastify\//,
];
/** Project folders whose modules are I/O by their job (stores, storage, queues, ClickHouse access). */
const IO_FOLDERS = ['gateway/state/', 'gateway/transport/', 'shared/policy-store/', 'shared/storage/', 'shared/clickhouse/', 'shared/queue/', 'shared/audit/'];

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s+(type\s)?[^'"`]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

interface ImportSpecifier {
  specifier: string;
  typeOnly: boolean;
}

function importsOf(source: string): ImportSpecifier[] {
  return [...source.matchAll(SPECIFIER)].map((match) => ({ specifier: (match[2] ?? match[3] ?? match[4])!, typeOnly: Boolean(match[1]) }));
}

/** Every I/O import reachable from `entry`, each with the chain of files that leads to it. */
function ioImportsReachableFrom(entry: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const path = [...chain, relative(ROOT, file)];
    const folder = IO_FOLDERS.find((prefix) => relative(ROOT, file).startsWith(prefix));
    if (folder) {
      found.push(`${path.join(' → ')} (an I/O module of ${folder})`);
      return;
    }
    for (const { specifier, typeOnly } of importsOf(readFileSync(file, 'utf8'))) {
      // A project module imported for its types only is erased before the code runs (policy-schema's
      // price catalog reads a package.json at load); the type of a Redis or ClickHouse client is not:
      // a module that takes one talks to it.
      if (specifier.startsWith('.')) {
        if (!typeOnly) visit(resolve(dirname(file), specifier), path);
      } else if (IO_MODULES.some((pattern) => pattern.test(specifier))) found.push(`${path.join(' → ')} imports ${specifier}`);
    }
  };
  visit(entry, []);
  return found;
}

describe('gateway/policy/ is the pure decision', () => {
  const files = readdirSync(POLICY_DIR).filter((name) => name.endsWith('.ts'));

  it('holds the decision modules', () => {
    expect(files).toEqual(expect.arrayContaining(['evaluate-policy.ts', 'match-rule.ts']));
  });

  it.each(files)('%s reaches no I/O, directly or through its imports', (name) => {
    expect(ioImportsReachableFrom(join(POLICY_DIR, name))).toEqual([]);
  });

  it('the guard itself catches a direct I/O import, an I/O package and a store reached through a helper', () => {
    expect(ioImportsReachableFrom(join(ROOT, 'shared/policy-store/policy-anchor.ts'))).toEqual([expect.stringContaining('policy-anchor.ts (an I/O module of shared/policy-store/)')]);
    expect(ioImportsReachableFrom(join(ROOT, 'shared/config/load-config.ts'))).toEqual(expect.arrayContaining([expect.stringMatching(/load-config\.ts imports node:fs$/)]));
    expect(ioImportsReachableFrom(join(ROOT, 'shared/governance/start-governance.ts')).some((line) => line.includes('shared/policy-store/'))).toBe(true);
  });
});
