import type { AuditEvent, AuditSink } from '../shared/audit/audit-event.ts';
import type { BatchWriter } from '../shared/storage/batch-writer.ts';

/** Interim audit sink until the hash-chained log is wired: rows without chain hashes. */
export class SimpleAuditSink implements AuditSink {
  private readonly writer: BatchWriter;
  private seq = 0;
  constructor(writer: BatchWriter) {
    this.writer = writer;
  }
  record(event: AuditEvent): void {
    this.seq += 1;
    this.writer.write('audit_log', [
      {
        ts: new Date().toISOString(),
        seq: this.seq,
        actor: event.actor,
        action: event.action,
        subject: event.subject,
        cost_center: event.cost_center ?? '',
        details: JSON.stringify(event.details ?? {}),
        policy_version: event.policy_version ?? 0,
        prev_hash: '',
        hash: '',
      },
    ]);
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
}
