import type { ClickHouseClient } from '@clickhouse/client';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { BatchWriter } from '../storage/batch-writer.ts';
import { HashChainAuditLog, readSpooledHead } from '../audit/hash-chain-audit-log.ts';
import { AuditCheckpointStore } from '../audit/audit-checkpoint.ts';
import { DenialDedup } from '../audit/denial-dedup.ts';
import { loadOrCreateSystemKey, type SystemKey } from '../signing/system-key.ts';
import { PolicyStore } from '../policy-store/policy-store.ts';
import { createPolicyAnchor } from '../policy-store/policy-anchor.ts';
import { GovernanceService } from './governance-service.ts';

export interface StartGovernanceOptions {
  client: ClickHouseClient;
  database: string;
  /** Resolved `data_dir` (the system key lives here unless `systemKeyFile` says otherwise). */
  dataDir: string;
  /** Config `system_key_file`. In distributed mode every process must point at the same key. */
  systemKeyFile?: string | undefined;
  /** Folder a relative `systemKeyFile` resolves against (the config file's). @defaultValue the current directory */
  configDir?: string | undefined;
  /** The process's BatchWriter; audit rows go through it. */
  writer: BatchWriter;
  /** The directory of the writer's DiskSpool (the audit head may sit there after an outage). */
  spoolDirectory: string;
  /** Policy YAML that becomes version 1 on an empty store … */
  bootstrapPolicyFile?: string | undefined;
  /** … or the already parsed bootstrap policy (env substituted). */
  bootstrapDocument?: unknown;
  /** Distributed mode; absent = embedded. */
  redis?: Redis | undefined;
  /** @defaultValue "gatehouse:" (config `redis.key_prefix`) */
  redisKeyPrefix?: string | undefined;
  /** @defaultValue 1000 */
  pollIntervalMillis?: number | undefined;
  /** Four-eyes rule (config `governance.require_distinct_approver`). @defaultValue true */
  requireDistinctApprover?: boolean | undefined;
  onError?: ((error: unknown, component: 'audit' | 'policy') => void) | undefined;
}

/** Everything governance hands the rest of the process. */
export interface RunningGovernance {
  audit: HashChainAuditLog;
  /** The PolicyHolder for the hot path (`context.policy`). */
  store: PolicyStore;
  service: GovernanceService;
  /** `request.denied` once per (session, turn, code). */
  denials: DenialDedup;
  systemKey: SystemKey;
  /** Highest audit seq waiting in the spool (the admin routes' audit verify does not call those rows removed). */
  spooledSeq(): number;
  /** Stops policy polling/subscription and flushes audit events into the writer (shut the writer down after). */
  close(): Promise<void>;
}

/**
 * Start-up in the only order that works: audit log first (recovers the chain head from ClickHouse,
 * the spool and Redis), then the system key, then the policy store (bootstraps version 1 and records
 * it on the audit log, verifies the chain, starts hot-load), then the service.
 */
export async function startGovernance(options: StartGovernanceOptions): Promise<RunningGovernance> {
  // The system key first: it signs the audit checkpoints the log reads back when it opens.
  const systemKey = loadOrCreateSystemKey({
    dataDir: options.dataDir,
    systemKeyFile: options.systemKeyFile,
    baseDir: options.configDir,
    onWarning: (message) => options.onError?.(new Error(message), 'policy'),
  });
  const checkpoints = new AuditCheckpointStore({
    file: join(options.dataDir, 'audit-checkpoint.json'),
    signer: systemKey,
    redis: options.redis,
    redisKeyPrefix: options.redisKeyPrefix,
    onError: (error) => options.onError?.(error, 'audit'),
  });
  const audit = await HashChainAuditLog.open({
    client: options.client,
    database: options.database,
    writer: options.writer,
    spoolDirectory: options.spoolDirectory,
    journalDirectory: join(options.dataDir, 'audit-journal'),
    checkpoints,
    redis: options.redis,
    redisKeyPrefix: options.redisKeyPrefix,
    onError: (error) => options.onError?.(error, 'audit'),
  });
  const anchor = createPolicyAnchor({ file: join(options.dataDir, 'policy-anchor.json'), redis: options.redis, redisKeyPrefix: options.redisKeyPrefix });
  const store = await PolicyStore.open({
    anchor,
    client: options.client,
    database: options.database,
    systemKey,
    audit,
    bootstrapPolicyFile: options.bootstrapPolicyFile,
    bootstrapDocument: options.bootstrapDocument,
    redis: options.redis,
    redisKeyPrefix: options.redisKeyPrefix,
    pollIntervalMillis: options.pollIntervalMillis,
    onError: (error) => options.onError?.(error, 'policy'),
  });
  const service = new GovernanceService({ client: options.client, database: options.database, store, audit, requireDistinctApprover: options.requireDistinctApprover });
  const denials = new DenialDedup({ redis: options.redis, keyPrefix: options.redisKeyPrefix, onError: (error) => options.onError?.(error, 'audit') });
  return {
    audit,
    store,
    service,
    denials,
    systemKey,
    spooledSeq: () => readSpooledHead(options.spoolDirectory)?.seq ?? 0,
    async close() {
      await store.close();
      await audit.flush();
    },
  };
}
