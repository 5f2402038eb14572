/** Dotted audit action names (CONTRACT.md). */
export type AuditAction =
  | 'request.denied'
  | 'provider.hop'
  | 'budget.alert'
  | 'budget.downgrade'
  | 'budget.pause'
  | 'key.created'
  | 'key.revoked'
  | 'policy.proposed'
  | 'policy.approved'
  | 'policy.rejected'
  | 'policy.activated'
  | 'policy.rolled_back'
  | 'policy.rule_accepted'
  | 'policy.refused'
  | 'config.error'
  | 'breaker.opened'
  | 'breaker.closed'
  | (string & {});

export interface AuditEvent {
  actor: string;
  action: AuditAction;
  subject: string;
  cost_center?: string;
  details?: Record<string, unknown>;
  policy_version?: number;
}

/** Where audit events go. `record` never blocks the request path and never throws. */
export interface AuditSink {
  record(event: AuditEvent): void;
  /** Resolves when everything recorded so far is durable (ClickHouse or spool). */
  flush(): Promise<void>;
}
