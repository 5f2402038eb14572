import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Redis } from 'ioredis';

/**
 * The policy versions this deployment activated itself, kept where a writer of the database cannot
 * reach: a file in the data dir (embedded mode), and a Redis hash shared by every gateway
 * (distributed mode; the file then remembers what this gateway saw). A row in `policy_versions`
 * whose (version, hash) is in neither was written by hand and is never served, however well signed.
 */
export interface PolicyAnchor {
  /** version → hash of every version activated through a gateway. */
  read(): Promise<Map<number, string>>;
  /** Records an activation before its row is written (so other gateways accept the row when they see it). */
  add(version: number, hash: string): Promise<void>;
  /** Where it is kept, for messages. */
  readonly description: string;
}

export interface PolicyAnchorOptions {
  /** JSON file, mode 0600 (e.g. `<data_dir>/policy-anchor.json`). */
  file: string;
  redis?: Redis | undefined;
  /** @defaultValue "gatehouse:" */
  redisKeyPrefix?: string | undefined;
}

interface AnchorFile {
  versions: Record<string, string>;
}

/** File (and Redis) anchor; a version counts as anchored when either place holds it. */
export function createPolicyAnchor(options: PolicyAnchorOptions): PolicyAnchor {
  const key = `${options.redisKeyPrefix ?? 'gatehouse:'}policy:anchor`;
  const readFile = (): Map<number, string> => {
    if (!existsSync(options.file)) return new Map();
    const parsed = JSON.parse(readFileSync(options.file, 'utf8')) as AnchorFile;
    return new Map(Object.entries(parsed.versions ?? {}).map(([version, hash]) => [Number(version), String(hash)]));
  };
  const writeFile = (versions: Map<number, string>): void => {
    mkdirSync(dirname(options.file), { recursive: true });
    const text = `${JSON.stringify({ versions: Object.fromEntries([...versions].sort((a, b) => a[0] - b[0])) } satisfies AnchorFile, null, 1)}\n`;
    writeFileSync(`${options.file}.tmp`, text, { mode: 0o600 });
    renameSync(`${options.file}.tmp`, options.file);
  };
  return {
    description: options.redis ? `${options.file} and Redis ${key}` : options.file,
    async read() {
      const versions = readFile();
      if (options.redis) {
        const shared = await options.redis.hgetall(key);
        let learned = false;
        for (const [version, hash] of Object.entries(shared)) {
          if (versions.get(Number(version)) === hash) continue;
          // Another gateway's activation: remember it locally too (Redis may be flushed later).
          if (!versions.has(Number(version))) learned = true;
          versions.set(Number(version), hash);
        }
        if (learned) writeFile(versions);
      }
      return versions;
    },
    async add(version, hash) {
      const versions = readFile();
      versions.set(version, hash);
      writeFile(versions);
      if (options.redis) await options.redis.hset(key, String(version), hash);
    },
  };
}
