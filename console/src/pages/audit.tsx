import { useState } from 'preact/hooks';
import { database, quote, request, sql, getJson } from '../api.ts';
import { dateTime } from '../format.ts';
import { ErrorBox, Section, Table, download, useLoad } from '../ui.tsx';

interface Filters {
  since: string;
  until: string;
  action: string;
  actor: string;
  costCenter: string;
  text: string;
}

const COLUMNS = ['at', 'seq', 'actor', 'action_name', 'subject', 'cost_center', 'policy_version', 'details', 'hash'] as const;

function whereOf(filters: Filters): string {
  const parts = ['1 = 1'];
  if (filters.since) parts.push(`ts >= parseDateTime64BestEffort(${quote(filters.since)}, 3, 'UTC')`);
  if (filters.until) parts.push(`ts < parseDateTime64BestEffort(${quote(filters.until)}, 3, 'UTC') + INTERVAL 1 DAY`);
  if (filters.action) parts.push(`action = ${quote(filters.action)}`);
  if (filters.actor) parts.push(`positionCaseInsensitive(actor, ${quote(filters.actor)}) > 0`);
  if (filters.costCenter) parts.push(`cost_center = ${quote(filters.costCenter)}`);
  if (filters.text) parts.push(`(positionCaseInsensitive(subject, ${quote(filters.text)}) > 0 OR positionCaseInsensitive(details, ${quote(filters.text)}) > 0)`);
  return parts.join(' AND ');
}

function csvOf(rows: Record<string, unknown>[]): string {
  const cell = (value: unknown) => `"${String(value ?? '').replaceAll('"', '""')}"`;
  return [COLUMNS.join(','), ...rows.map((row) => COLUMNS.map((column) => cell(row[column])).join(','))].join('\n') + '\n';
}

/** The hash-chained audit log: filter, verify the chain, export for a SIEM (JSON Lines) or a spreadsheet (CSV). */
// Over 60 lines: a React page: the query, export handlers and markup of one screen; the filter SQL and CSV live in whereOf and csvOf.
export function AuditPage() {
  const db = database();
  const [draft, setDraft] = useState<Filters>({ since: '', until: '', action: '', actor: '', costCenter: '', text: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const [verify, setVerify] = useState<string>();
  const [exportError, setExportError] = useState<string>();
  const actions = useLoad(() => sql(`SELECT DISTINCT toString(action) AS action FROM ${db}.audit_log ORDER BY action`), []);
  const events = useLoad(
    () => sql(`SELECT toString(ts) AS at, seq, actor, toString(action) AS action_name, subject, cost_center, policy_version, details, hash FROM ${db}.audit_log WHERE ${whereOf(filters)} ORDER BY seq DESC LIMIT 500`),
    [filters],
  );
  const field = (name: keyof Filters) => ({
    value: draft[name],
    onInput: (event: Event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value }),
  });
  async function exportJsonLines() {
    setExportError(undefined);
    try {
      // The SIEM export is the whole chain unless a start is chosen; other filters apply to the table only.
      const query = filters.since ? `?since=${encodeURIComponent(new Date(`${filters.since}T00:00:00Z`).toISOString())}` : '';
      const response = await request(`/admin/audit${query}`);
      download(`gatehouse-audit${filters.since ? `-since-${filters.since}` : ''}.jsonl`, await response.blob());
    } catch (error) {
      setExportError((error as Error).message);
    }
  }
  async function verifyChain() {
    try {
      const result = await getJson<Record<string, unknown>>('/admin/audit/verify');
      setVerify(
        result.ok
          ? `verified: ${String(result.rows)} event(s), seq ${String(result.firstSeq)}–${String(result.lastSeq)}, head ${String(result.headHash).slice(0, 16)}…`
          : `BROKEN: ${JSON.stringify(result.firstBroken ?? result)}`,
      );
    } catch (error) {
      setVerify(`verification failed: ${(error as Error).message}`);
    }
  }
  return (
    <Section
      title="Audit log"
      actions={
        <>
          <button onClick={verifyChain}>Verify chain</button>
          <button onClick={exportJsonLines}>Export JSON Lines</button>
          <button onClick={() => download('gatehouse-audit.csv', csvOf(events.data ?? []), 'text/csv')}>Export CSV</button>
        </>
      }
    >
      <form
        class="filters"
        aria-label="audit filters"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
        }}
      >
        <label>
          Since <input type="date" name="since" {...field('since')} />
        </label>
        <label>
          Until <input type="date" name="until" {...field('until')} />
        </label>
        <label>
          Action{' '}
          <select name="action" value={draft.action} onChange={(event) => setDraft({ ...draft, action: (event.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {(actions.data ?? []).map((row) => (
              <option value={String(row.action)}>{String(row.action)}</option>
            ))}
          </select>
        </label>
        <label>
          Actor <input name="actor" {...field('actor')} />
        </label>
        <label>
          Cost center <input name="cost_center" {...field('costCenter')} />
        </label>
        <label>
          Text <input name="text" placeholder="subject or details" {...field('text')} />
        </label>
        <button type="submit" class="primary">
          Apply
        </button>
      </form>
      {verify ? (
        <p class={verify.startsWith('verified') ? 'notice' : 'error'} role="status">
          Audit chain {verify}
        </p>
      ) : null}
      <ErrorBox error={events.error ?? exportError} />
      <p class="muted">{events.data ? `${events.data.length} event(s)${events.data.length === 500 ? ' (first 500; narrow the filters or export)' : ''}` : ''}</p>
      <Table
        label="audit events"
        rows={events.data ?? []}
        columns={[
          { label: 'Seq', value: (row) => String(row.seq), numeric: true },
          { label: 'Time (UTC)', value: (row) => dateTime(row.at) },
          { label: 'Action', value: (row) => <span class="badge">{String(row.action_name)}</span> },
          { label: 'Actor', value: (row) => String(row.actor) },
          { label: 'Subject', value: (row) => <code>{String(row.subject)}</code> },
          { label: 'Cost center', value: (row) => String(row.cost_center) },
          { label: 'Policy', value: (row) => String(row.policy_version), numeric: true },
          { label: 'Details', value: (row) => <code class="details">{String(row.details)}</code> },
        ]}
      />
    </Section>
  );
}
