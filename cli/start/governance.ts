import type { Redis } from 'ioredis';
import { startGovernance, type RunningGovernance } from '../../shared/governance/start-governance.ts';
import { startCheckpointBeacon } from '../../shared/governance/checkpoint-beacon.ts';
import type { WebhookAlerter } from '../../gateway/alerts/webhook-alerter.ts';
import type { StartConfig } from './start-config.ts';
import type { Storage } from './open-storage.ts';

/** The audit log, the signed policy (the process's PolicyHolder) and the proposal workflow. */
export function openGovernance(start: StartConfig, storage: Storage, redis: Redis | undefined): Promise<RunningGovernance> {
  const { config, logger } = start;
  return startGovernance({
    client: storage.clickhouse,
    database: storage.database,
    dataDir: start.dataDir,
    systemKeyFile: config.system_key_file,
    configDir: start.configDir,
    writer: storage.writer,
    spoolDirectory: storage.spoolDirectory,
    bootstrapDocument: start.bootstrapPolicy,
    redis,
    redisKeyPrefix: config.redis.key_prefix,
    requireDistinctApprover: config.governance.require_distinct_approver,
    onError: (error, component) => logger.warn({ err: { message: (error as Error).message }, component }, 'governance background error'),
  });
}

/** Signed checkpoints of the audit head at the configured interval; returns the stop. */
export function startAuditCheckpoints(start: StartConfig, governance: RunningGovernance, alerter: WebhookAlerter): () => void {
  return startCheckpointBeacon({
    audit: governance.audit,
    signer: governance.systemKey,
    alert: (event) => alerter.send(event),
    intervalMillis: start.config.governance.audit_checkpoint_interval_seconds * 1000,
  });
}
