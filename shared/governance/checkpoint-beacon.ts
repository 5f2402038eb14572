import type { HashChainAuditLog } from '../audit/hash-chain-audit-log.ts';
import { signCheckpoint, type CheckpointSigner } from '../audit/audit-checkpoint.ts';

export interface CheckpointBeaconOptions {
  audit: HashChainAuditLog;
  signer: CheckpointSigner;
  /** Sends the checkpoint to the SIEM webhook (`event: "audit.checkpoint"`). */
  alert: (event: { event: string; [field: string]: unknown }) => void;
  intervalMillis: number;
}

/**
 * Sends the signed head of the audit chain off the machine now and then: to the SIEM webhook, and
 * as an `audit.checkpoint` event the SIEM's export reads too. Someone who later rewrites the
 * table and the local checkpoint file still contradicts what the SIEM already holds. Only when the
 * chain moved since the last beacon (its own event aside).
 * @returns stop
 */
export function startCheckpointBeacon(options: CheckpointBeaconOptions): () => void {
  let lastSeq = options.audit.head().seq;
  const beat = () => {
    const head = options.audit.head();
    if (head.seq <= lastSeq) return;
    const checkpoint = signCheckpoint(head, options.signer);
    options.alert({ event: 'audit.checkpoint', ...checkpoint });
    options.audit.record({ actor: 'system', action: 'audit.checkpoint', subject: `audit:${checkpoint.seq}`, details: { ...checkpoint } });
    lastSeq = head.seq + 1;
  };
  const timer = setInterval(beat, options.intervalMillis);
  timer.unref();
  return () => clearInterval(timer);
}
