import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Redis } from 'ioredis';
import { canonicalJson } from '../signing/canonical-json.ts';
import { verifyText } from '../signing/ed25519.ts';

/**
 * The audit chain's head (seq, hash) kept outside `audit_log`, signed by the system key. Whoever
 * can write the table can delete its last rows or rewrite the whole chain with fresh hashes; they
 * cannot move this anchor back, so `verify` sees the rows that are gone.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** ISO time the checkpoint was taken. */
  ts: string;
  signed_by: string;
  /** Base64 Ed25519 signature over checkpointText(). */
  signature: string;
}

/** A checkpoint and where it was read from (named in verify's answer). */
export interface AnchoredCheckpoint {
  source: string;
  checkpoint: AuditCheckpoint;
}

export interface CheckpointSigner {
  id: string;
  publicKeyPem: string;
  sign(text: string): string;
}

/** The signed text: the head and the time, nothing else. */
export function checkpointText(checkpoint: Pick<AuditCheckpoint, 'seq' | 'hash' | 'ts'>): string {
  return canonicalJson({ kind: 'gatehouse.audit.checkpoint', seq: checkpoint.seq, hash: checkpoint.hash, ts: checkpoint.ts });
}

export function signCheckpoint(head: { seq: number; hash: string }, signer: CheckpointSigner, now = new Date()): AuditCheckpoint {
  const unsigned = { seq: head.seq, hash: head.hash, ts: now.toISOString() };
  return { ...unsigned, signed_by: signer.id, signature: signer.sign(checkpointText(unsigned)) };
}

export interface AuditCheckpointStoreOptions {
  /** `<data_dir>/audit-checkpoint.json` */
  file: string;
  signer: CheckpointSigner;
  /** Distributed mode: the same checkpoint, raised only, under `<prefix>audit:checkpoint`. */
  redis?: Redis | undefined;
  redisKeyPrefix?: string | undefined;
  onError?: ((error: unknown) => void) | undefined;
}

// Replaces the stored checkpoint only with a higher seq (gateways of one chain race to write it).
const RAISE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and tonumber(decoded['seq']) and tonumber(decoded['seq']) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

/**
 * Writes the checkpoint (atomically, mode 0600) after audit rows are appended, coalescing a burst
 * into one write, and reads back every copy with its signature checked.
 */
export class AuditCheckpointStore {
  private readonly options: AuditCheckpointStoreOptions;
  private readonly redisKey: string;
  private latest: { seq: number; hash: string } | undefined;
  private written = 0;
  private scheduled = false;

  constructor(options: AuditCheckpointStoreOptions) {
    this.options = options;
    this.redisKey = `${options.redisKeyPrefix ?? 'gatehouse:'}audit:checkpoint`;
  }

  /** Notes a new head; the file is rewritten once the current burst of appends is over. */
  advance(head: { seq: number; hash: string }): void {
    if (this.latest && head.seq <= this.latest.seq) return;
    this.latest = { ...head };
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.writeNow();
    });
  }

  /** Writes the newest head now (flush and shutdown). */
  async writeNow(): Promise<void> {
    const head = this.latest;
    if (!head || head.seq <= this.written) return;
    this.written = head.seq;
    const checkpoint = signCheckpoint(head, this.options.signer);
    try {
      // Never lower the file: a restarted gateway may hold a stale head for a moment.
      const onDisk = this.readFile();
      if (!onDisk || onDisk.seq < checkpoint.seq) {
        mkdirSync(dirname(this.options.file), { recursive: true });
        writeFileSync(`${this.options.file}.tmp`, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
        renameSync(`${this.options.file}.tmp`, this.options.file);
      }
      if (this.options.redis) await this.options.redis.eval(RAISE_SCRIPT, 1, this.redisKey, String(checkpoint.seq), JSON.stringify(checkpoint));
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private readFile(): AuditCheckpoint | undefined {
    if (!existsSync(this.options.file)) return undefined;
    return JSON.parse(readFileSync(this.options.file, 'utf8')) as AuditCheckpoint;
  }

  /**
   * Every checkpoint copy there is. A copy whose signature does not verify is returned with seq -1
   * and the reason in `source`, so verify reports it instead of silently comparing nothing.
   */
  async read(): Promise<AnchoredCheckpoint[]> {
    const copies: AnchoredCheckpoint[] = [];
    const file = this.readFile();
    if (file) copies.push(this.checked(`checkpoint file ${this.options.file}`, file));
    if (this.options.redis) {
      const text = await this.options.redis.get(this.redisKey);
      if (text) copies.push(this.checked(`Redis ${this.redisKey}`, JSON.parse(text) as AuditCheckpoint));
    }
    return copies;
  }

  private checked(source: string, checkpoint: AuditCheckpoint): AnchoredCheckpoint {
    const valid = checkpoint.signed_by === this.options.signer.id && verifyText(this.options.signer.publicKeyPem, checkpointText(checkpoint), checkpoint.signature);
    return valid ? { source, checkpoint } : { source: `${source} (signature does not verify)`, checkpoint: { ...checkpoint, seq: -1 } };
  }

  /** The highest valid checkpoint, if any. */
  async highest(): Promise<AuditCheckpoint | undefined> {
    let best: AuditCheckpoint | undefined;
    for (const { checkpoint } of await this.read()) if (checkpoint.seq >= 0 && (!best || checkpoint.seq > best.seq)) best = checkpoint;
    return best;
  }
}
