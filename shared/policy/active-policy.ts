import type { PolicyDocument } from './policy-schema.ts';

/** The policy version the gateway enforces right now. */
export interface ActivePolicy {
  version: number;
  /** SHA-256 (hex) of the canonical JSON of `document`. */
  hash: string;
  parentHash: string;
  /** Approver id(s) who signed this version ("system" for bootstrap/automatic rollback). */
  approvedBy: string;
  document: PolicyDocument;
}

export interface PolicyReadiness {
  ok: boolean;
  /** Why the last load was refused, if it was (the current version stays in force). */
  refusal?: string | undefined;
}

/** What the hot path reads. Implementations swap `current()` atomically on hot-load. */
export interface PolicyHolder {
  current(): ActivePolicy;
  onChange(listener: (policy: ActivePolicy) => void): () => void;
  readiness(): PolicyReadiness;
}

/** A holder with a fixed policy (tests, dry runs) that can be swapped by hand. */
export class StaticPolicyHolder implements PolicyHolder {
  private policy: ActivePolicy;
  private readonly listeners = new Set<(policy: ActivePolicy) => void>();
  constructor(policy: ActivePolicy) {
    this.policy = policy;
  }
  current(): ActivePolicy {
    return this.policy;
  }
  set(policy: ActivePolicy): void {
    this.policy = policy;
    for (const listener of this.listeners) listener(policy);
  }
  onChange(listener: (policy: ActivePolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  readiness(): PolicyReadiness {
    return { ok: true };
  }
}
