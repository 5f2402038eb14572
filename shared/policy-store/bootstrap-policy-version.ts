import type { PolicyDocument } from '../policy/policy-schema.ts';
import type { AuditSink } from '../audit/audit-event.ts';
import type { SystemKey } from '../signing/system-key.ts';
import { loadPolicyFile, parsePolicyDocument } from '../config/load-config.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { sha256Hex } from '../signing/hash.ts';
import { approvalDigest } from '../governance/approval-digest.ts';
import { hashKeySecrets } from '../governance/hash-key-secrets.ts';
import type { PolicyAnchor } from './policy-anchor.ts';
import type { PolicyVersionTable } from './policy-version-table.ts';

/** Where version 1 comes from, and who signs and records it. */
export interface BootstrapOptions {
  table: PolicyVersionTable;
  systemKey: SystemKey;
  audit: AuditSink;
  anchor?: PolicyAnchor | undefined;
  bootstrapPolicyFile?: string | undefined;
  bootstrapDocument?: unknown;
}

/**
 * On an empty `policy_versions`, writes the operator's policy as version 1, signed by the system
 * key (the one thing the system key may sign on its own), and records `policy.activated`.
 */
export async function bootstrapPolicyVersionIfEmpty(options: BootstrapOptions): Promise<void> {
  if (!(await options.table.isEmpty())) return;
  const document = hashKeySecrets(readBootstrapDocument(options));
  const text = canonicalJson(document);
  const hash = sha256Hex(text);
  const proposalId = 'bootstrap';
  const signature = options.systemKey.sign(approvalDigest({ proposalId, baseHash: '', documentHash: hash }));
  // Ed25519 is deterministic: gateways racing to bootstrap with the same key and file write rows
  // that differ only in time, and FINAL keeps one of them.
  const at = options.table.timestamp();
  // An empty table bootstraps from the operator's policy file, whatever the anchor said before.
  await options.anchor?.add(1, hash);
  await options.table.insert(
    [
      {
        version: 1,
        hash,
        parent_hash: '',
        document: text,
        signature,
        signed_by: options.systemKey.id,
        approved_by: options.systemKey.id,
        proposal_id: proposalId,
        justification: `bootstrap policy${options.bootstrapPolicyFile ? ` from ${options.bootstrapPolicyFile}` : ''}`,
        status: 'active',
        created_at: at,
        updated_at: at,
      },
    ],
    `policy-bootstrap-${hash}`,
  );
  options.audit.record({
    actor: options.systemKey.id,
    action: 'policy.activated',
    subject: 'policy:1',
    details: { version: 1, hash, parent_hash: '', approved_by: options.systemKey.id, proposal_id: proposalId, bootstrap: true },
    policy_version: 1,
  });
}

function readBootstrapDocument(options: BootstrapOptions): PolicyDocument {
  if (options.bootstrapDocument !== undefined) return parsePolicyDocument(options.bootstrapDocument, 'bootstrap policy');
  if (options.bootstrapPolicyFile) return loadPolicyFile(options.bootstrapPolicyFile);
  throw new Error('policy_versions is empty and no bootstrap policy was given');
}
