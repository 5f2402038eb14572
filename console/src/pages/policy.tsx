import { useState } from 'preact/hooks';
import { activePolicy, getJson } from '../api.ts';
import { dateTime } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';

interface PolicyVersion {
  version: number;
  hash: string;
  parent_hash?: string;
  approved_by?: string | string[];
  signed_by?: string;
  status?: string;
  proposal_id?: string;
  justification?: string;
  created_at?: string;
  document?: unknown;
}

function short(hash: unknown): string {
  const text = String(hash ?? '');
  return text.length > 12 ? `${text.slice(0, 12)}…` : text || '—';
}

/** Every policy version with its hash chain, who approved it and why; the active document. */
export function PolicyPage() {
  const [open, setOpen] = useState<number>();
  const active = useLoad(() => activePolicy(), []);
  const versions = useLoad(
    () =>
      getJson<PolicyVersion[] | { versions: PolicyVersion[] }>('/admin/policy/versions').then((body) =>
        (Array.isArray(body) ? body : (body.versions ?? [])).slice().sort((a, b) => Number(b.version) - Number(a.version)),
      ),
    [],
  );
  const selected = versions.data?.find((version) => Number(version.version) === open);
  return (
    <>
      <Section title={`Active policy${active.data ? `: version ${active.data.version}` : ''}`}>
        <ErrorBox error={active.error} />
        {active.data ? (
          <p>
            hash <code>{short(active.data.hash)}</code> · parent <code>{short(active.data.parent_hash)}</code> · approved by{' '}
            {[active.data.approved_by ?? '—'].flat().join(', ')}
          </p>
        ) : null}
        {active.data?.refusal ? (
          <p class="error" role="alert">
            Refused, not served: {active.data.refusal}
          </p>
        ) : null}
      </Section>
      <Section title="Policy history">
        <ErrorBox error={versions.error} />
        <Table
          label="policy versions"
          rows={versions.data ?? []}
          columns={[
            { label: 'Version', value: (row) => <button class="link" onClick={() => setOpen(Number(row.version))}>v{row.version}</button> },
            { label: 'Status', value: (row) => <span class={`badge status-${row.status ?? ''}`}>{row.status ?? '—'}</span> },
            { label: 'Created (UTC)', value: (row) => dateTime(row.created_at) },
            { label: 'Approved by', value: (row) => [row.approved_by ?? row.signed_by ?? '—'].flat().join(', ') },
            { label: 'Proposal', value: (row) => <code>{row.proposal_id || '—'}</code> },
            { label: 'Justification', value: (row) => row.justification ?? '' },
            { label: 'Hash', value: (row) => <code title={row.hash}>{short(row.hash)}</code> },
            { label: 'Parent', value: (row) => <code title={row.parent_hash}>{short(row.parent_hash)}</code> },
          ]}
        />
        {selected ? (
          <details open>
            <summary>Document of version {selected.version}</summary>
            <pre class="json">{JSON.stringify(typeof selected.document === 'string' ? JSON.parse(selected.document) : selected.document ?? active.data?.document, null, 2)}</pre>
          </details>
        ) : null}
      </Section>
    </>
  );
}
