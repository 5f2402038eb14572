import { useState } from 'preact/hooks';
import { ApiError, activePolicy, getJson, postJson, type Session } from '../api.ts';
import { dateTime } from '../format.ts';
import { signDigest } from '../sign.ts';
import { ErrorBox, Section, useLoad } from '../ui.tsx';
import { DryRunView, MathView, parsed } from './proposal-evidence.tsx';

export interface Proposal {
  id: string;
  status: string;
  source?: string;
  author?: string;
  summary?: string;
  justification?: string;
  diff?: unknown;
  math?: unknown;
  digest: string;
  dry_run?: unknown;
  dry_run_results?: unknown;
  created_at?: string;
  decided_by?: string;
  decision_reason?: string;
  activated_version?: number;
}

/** A unified diff coloured by line, or structured diff entries as `op path: before → after`. */
export function DiffView({ diff }: { diff: unknown }) {
  const value = parsed(diff);
  const text = typeof value === 'string' ? value : typeof (value as { text?: unknown })?.text === 'string' ? (value as { text: string }).text : JSON.stringify(value, null, 2);
  const lines = text.split('\n');
  return (
    <pre class="diff" aria-label="policy diff">
      {lines.map((line) => (
        <span class={line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : line.startsWith('~') ? 'chg' : ''}>{line + '\n'}</span>
      ))}
    </pre>
  );
}

// Over 60 lines: one form component: its submit handler and its markup; the signing lives in signDigest.
function ApproveForm({ proposal, approvers, session, onDone }: { proposal: Proposal; approvers: string[]; session: Session; onDone: (message: string) => void }) {
  const [picked, setPicked] = useState('');
  // The approvers list may arrive after the form first rendered: until someone picks, the select's
  // first entry (what it shows) is the approver.
  const approver = picked || approvers[0] || '';
  const [pem, setPem] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function approve(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const signature = await signDigest(pem, proposal.digest);
      const result = await postJson<{ version?: number }>(`/admin/policy/proposals/${encodeURIComponent(proposal.id)}/approve`, {
        approver,
        signature,
        ...(session.oidc ? { id_token: session.token } : {}),
      });
      setPem('');
      onDone(`Approved ${proposal.id} as ${approver}: policy version ${result.version ?? '?'} is active.`);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  }
  async function readFile(event: Event) {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file) setPem(await file.text());
  }
  return (
    <form class="approve" onSubmit={approve} aria-label="approve proposal">
      <h3>Approve and sign</h3>
      <p class="muted">Signs this digest with Ed25519 in this browser; the private key never leaves the page.</p>
      <pre class="json digest" aria-label="approval digest">
        {proposal.digest}
      </pre>
      <label>
        Approver id{' '}
        {approvers.length ? (
          <select name="approver" value={approver} onChange={(event) => setPicked((event.target as HTMLSelectElement).value)}>
            {approvers.map((id) => (
              <option value={id}>{id}</option>
            ))}
          </select>
        ) : (
          <input name="approver" required value={approver} onInput={(event) => setPicked((event.target as HTMLInputElement).value)} />
        )}
      </label>
      <label>
        Private key (PKCS#8 PEM)
        <textarea name="private-key" rows={4} spellcheck={false} placeholder="-----BEGIN PRIVATE KEY-----" value={pem} onInput={(event) => setPem((event.target as HTMLTextAreaElement).value)} />
      </label>
      <label class="file">
        or pick a key file <input type="file" name="key-file" accept=".pem,.key,text/plain" onChange={readFile} />
      </label>
      <ErrorBox error={error} />
      <button type="submit" class="primary" disabled={busy || !pem || !approver}>
        {busy ? 'Signing…' : 'Sign and approve'}
      </button>
    </form>
  );
}

function RejectForm({ proposal, onDone }: { proposal: Proposal; onDone: (message: string) => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  async function reject(event: Event) {
    event.preventDefault();
    try {
      await postJson(`/admin/policy/proposals/${encodeURIComponent(proposal.id)}/reject`, { reason });
      onDone(`Rejected ${proposal.id}: ${reason}`);
    } catch (failure) {
      setError((failure as Error).message);
    }
  }
  return (
    <form class="reject" onSubmit={reject} aria-label="reject proposal">
      <h3>Reject</h3>
      <label>
        Reason
        <input name="reason" required value={reason} onInput={(event) => setReason((event.target as HTMLInputElement).value)} />
      </label>
      <ErrorBox error={error} />
      <button type="submit" class="danger" disabled={!reason}>
        Reject
      </button>
    </form>
  );
}

function ProposalCard({ proposal, approvers, session, onDone }: { proposal: Proposal; approvers: string[]; session: Session; onDone: (message: string) => void }) {
  const canDecide = session.role !== 'analyst';
  const recordedDryRun = proposal.dry_run_results ?? proposal.dry_run ?? (parsed(proposal.math) as Record<string, unknown> | undefined)?.dry_run;
  return (
    <article class="proposal" data-proposal-id={proposal.id} aria-label={`proposal ${proposal.id}`}>
      <header>
        <span class={`badge status-${proposal.status}`}>{proposal.status}</span> <span class="badge">{proposal.source ?? 'human'}</span>{' '}
        <strong>{proposal.summary || proposal.justification || proposal.id}</strong>
        <p class="muted">
          {proposal.id} · by {proposal.author ?? 'unknown'} · {dateTime(proposal.created_at)}
          {proposal.decided_by ? ` · decided by ${proposal.decided_by}` : ''}
          {proposal.decision_reason ? ` (${proposal.decision_reason})` : ''}
          {proposal.activated_version ? ` · became version ${proposal.activated_version}` : ''}
        </p>
      </header>
      {proposal.justification && proposal.summary ? <p>{proposal.justification}</p> : null}
      <div class="grid-2">
        <div>
          <h3>Diff</h3>
          <DiffView diff={proposal.diff} />
        </div>
        <div>
          <h3>Math</h3>
          <MathView math={proposal.math} />
          <h3>Dry-run results</h3>
          <DryRunView diff={proposal.diff} fallback={recordedDryRun} />
        </div>
      </div>
      {proposal.status === 'pending' && canDecide ? (
        <div class="grid-2 decide">
          <ApproveForm proposal={proposal} approvers={approvers} session={session} onDone={onDone} />
          <RejectForm proposal={proposal} onDone={onDone} />
        </div>
      ) : null}
    </article>
  );
}

interface OptimizerStatusResult {
  costCenter: string;
  status: 'proposal' | 'insufficient_data' | 'no_improvement';
  summary: string;
  missing?: { requirement: string; message: string; hint: string; model?: string }[];
}

/** Where each cost center stands with the optimizer: warming up (and exactly what is missing), no improvement, or a proposal. */
export function OptimizerStatus() {
  const status = useLoad(
    () =>
      getJson<{ at: string; results: OptimizerStatusResult[]; exploration?: { costCenter: string; summary: string }[]; plans?: { costCenter: string; candidate: string; share: number; expiresAt?: number }[] }>('/admin/optimizer/status').catch((error: unknown) => {
        // A gateway without the optimizer role has no such route: show nothing rather than an error.
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }),
    [],
  );
  if (!status.data) return status.error ? <ErrorBox error={status.error} /> : null;
  return (
    <div class="optimizer-status">
      <h3>Optimizer by cost center</h3>
      <table>
        <thead>
          <tr>
            <th>cost center</th>
            <th>status</th>
            <th>what</th>
          </tr>
        </thead>
        <tbody>
          {status.data.results.map((result) => (
            <tr data-cost-center={result.costCenter}>
              <td>{result.costCenter}</td>
              <td>{result.status === 'insufficient_data' ? 'warming up' : result.status.replace('_', ' ')}</td>
              <td>
                {result.missing && result.missing.length > 0 ? (
                  <ul class="missing">
                    {result.missing.map((entry) => (
                      <li title={entry.hint}>{entry.message}</li>
                    ))}
                  </ul>
                ) : (
                  result.summary
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {status.data.exploration && status.data.exploration.length > 0 ? (
        <ul class="exploration">
          {status.data.exploration.map((entry) => (
            <li data-cost-center={entry.costCenter}>exploration: {entry.summary}</li>
          ))}
          {(status.data.plans ?? []).map((plan) => (
            <li data-plan={plan.costCenter}>
              in force for {plan.costCenter}: {plan.candidate} on ≤ {(plan.share * 100).toFixed(1)}% of sessions{plan.expiresAt !== undefined ? ` until ${new Date(plan.expiresAt).toISOString()}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
      <p class="hint">as of {status.data.at}</p>
    </div>
  );
}

export function ProposalsPage({ session }: { session: Session }) {
  const [status, setStatus] = useState('pending');
  const [notice, setNotice] = useState<string>();
  const proposals = useLoad(
    () => getJson<{ proposals: Proposal[] }>(`/admin/policy/proposals${status === 'all' ? '' : `?status=${status}`}`).then((body) => body.proposals ?? []),
    [status],
  );
  const policy = useLoad(() => activePolicy(), [notice]);
  const approvers = (policy.data?.document.approvers ?? []).map((approver) => approver.id);
  return (
    <Section
      title="Policy proposals"
      actions={
        <div class="tabs" role="tablist">
          {['pending', 'approved', 'rejected', 'all'].map((value) => (
            <button role="tab" aria-selected={status === value} class={status === value ? 'active' : ''} onClick={() => setStatus(value)}>
              {value}
            </button>
          ))}
        </div>
      }
    >
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <OptimizerStatus />
      <ErrorBox error={proposals.error} />
      {(proposals.data ?? []).length === 0 && !proposals.loading ? <p class="empty">No {status === 'all' ? '' : status} proposals.</p> : null}
      {(proposals.data ?? []).map((proposal) => (
        <ProposalCard
          proposal={proposal}
          approvers={approvers}
          session={session}
          onDone={(message) => {
            setNotice(message);
            proposals.reload();
            policy.reload();
          }}
        />
      ))}
    </Section>
  );
}
