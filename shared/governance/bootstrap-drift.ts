import type { PolicyDocument } from '../policy/policy-schema.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { hashKeySecrets } from './hash-key-secrets.ts';
import { diffPolicies } from './policy-diff.ts';

/** What `describeBootstrapDrift` compares. */
export interface BootstrapDriftInput {
  /** Path of the bootstrap policy file, as the operator knows it. */
  file: string;
  /** The file as read at start (plain keys included). */
  bootstrap: PolicyDocument;
  /** The version being served. */
  served: { version: number; document: PolicyDocument };
  /** Stored versions (number and canonical document text). */
  versions: { version: number; document: string }[];
}

const SHOWN_CHANGES = 6;

/**
 * The bootstrap policy file is read only on a fresh data dir (it becomes version 1); later versions come
 * only through approved proposals. An operator who edits the file afterwards would otherwise see nothing
 * happen. Returns the start-up message, or undefined when the file is what is served:
 * - the file matches an older stored version: the served policy moved on through approvals (a note);
 * - the file matches no version: it was edited, and the message says how to apply the edit.
 */
export function describeBootstrapDrift(input: BootstrapDriftInput): { level: 'note' | 'warning'; message: string } | undefined {
  // Stored versions keep key hashes, never plain keys: compare like with like.
  const bootstrap = hashKeySecrets(input.bootstrap);
  const text = canonicalJson(bootstrap);
  if (text === canonicalJson(input.served.document)) return undefined;
  const stored = input.versions.filter((version) => version.document === text).map((version) => version.version);
  if (stored.length > 0) {
    return {
      level: 'note',
      message: `${input.file} is policy version ${Math.max(...stored)}; version ${input.served.version} is served (changed through approved proposals since). The file is read only on a fresh data dir: \`npx gatehouse policy show\` prints what is served.`,
    };
  }
  const changes = diffPolicies(input.served.document, bootstrap).changes;
  const listed = changes.slice(0, SHOWN_CHANGES).map((change) => `${change.op === 'add' ? '+' : change.op === 'remove' ? '-' : '~'} ${change.path}`);
  if (changes.length > SHOWN_CHANGES) listed.push(`… ${changes.length - SHOWN_CHANGES} more`);
  return {
    level: 'warning',
    message: [
      `${input.file} differs from the policy being served (version ${input.served.version}) and is NOT applied: the bootstrap file is read only on a fresh data dir.`,
      `  differences (file vs served): ${listed.join(', ')}`,
      `  to apply it:  npx gatehouse policy propose --file ${input.file} --justification "…"  then an approver signs it (npx gatehouse policy approve ID --key ID.key.pem --approver ID)`,
      `  to keep what is served:  npx gatehouse policy show > ${input.file}  (or undo the edit)`,
    ].join('\n'),
  };
}
