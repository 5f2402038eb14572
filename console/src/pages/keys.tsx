import { useState } from 'preact/hooks';
import { activePolicy, getJson, sendJson, type Session } from '../api.ts';
import { dateTime, money } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';

/** A key as `GET /admin/keys` lists it: never a secret, never a hash. */
export interface KeyView {
  id: string;
  key_prefix: string;
  developer: string;
  cost_center: string;
  repo?: string;
  identity?: string;
  tags: string[];
  budgets: { daily_usd?: number; monthly_usd?: number } | null;
  source: string;
  created_by?: string;
  created_at?: string;
  revoked_at: string | null;
  expires_at: string | null;
  allowed_models?: string[];
  limits: { rpm?: number; tpm?: number } | null;
  rotated_grace_until: string | null;
}

/** The one moment a secret is on screen: right after creation or rotation, until dismissed. */
interface ShownSecret {
  id: string;
  developer: string;
  secret: string;
  why: 'created' | 'rotated';
}

function statusOf(key: KeyView): string {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return 'expired';
  if (key.rotated_grace_until && Date.parse(key.rotated_grace_until) > Date.now()) return 'rotating';
  return 'active';
}

const list = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
const numberOrUndefined = (text: string) => (text.trim() === '' ? undefined : Number(text));
/** `<input type=datetime-local>` is local time without a zone; the API wants an instant with one. */
const isoFromLocal = (text: string) => (text ? new Date(text).toISOString() : undefined);
const localFromIso = (iso: string | null) => {
  if (!iso) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

/** Drops the undefined members; an object left empty becomes undefined. */
function compact<T extends Record<string, number | undefined>>(value: T): Partial<T> | undefined {
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return entries.length ? (Object.fromEntries(entries) as Partial<T>) : undefined;
}

function Field({ label, name, value, onInput, type = 'text', placeholder }: { label: string; name: string; value: string; onInput: (value: string) => void; type?: 'text' | 'number' | 'datetime-local'; placeholder?: string }) {
  return (
    <label>
      {label}
      <input name={name} type={type as 'text'} value={value} placeholder={placeholder} step={type === 'number' ? 'any' : undefined} onInput={(event) => onInput((event.target as HTMLInputElement).value)} />
    </label>
  );
}

interface KeyFields {
  developer: string;
  cost_center: string;
  repo: string;
  tags: string;
  daily: string;
  monthly: string;
  expires: string;
  models: string;
  rpm: string;
  tpm: string;
}

const EMPTY_FIELDS: KeyFields = { developer: '', cost_center: '', repo: '', tags: '', daily: '', monthly: '', expires: '', models: '', rpm: '', tpm: '' };

function fieldsOf(key: KeyView): KeyFields {
  return {
    developer: key.developer,
    cost_center: key.cost_center,
    repo: key.repo ?? '',
    tags: key.tags.join(', '),
    daily: key.budgets?.daily_usd?.toString() ?? '',
    monthly: key.budgets?.monthly_usd?.toString() ?? '',
    expires: localFromIso(key.expires_at),
    models: (key.allowed_models ?? []).join(', '),
    rpm: key.limits?.rpm?.toString() ?? '',
    tpm: key.limits?.tpm?.toString() ?? '',
  };
}

/** The optional members shared by create and update; `clear` sends null for an emptied budget, limit or expiry. */
function optionalBody(fields: KeyFields, clear: boolean): Record<string, unknown> {
  const budgets = compact({ daily_usd: numberOrUndefined(fields.daily), monthly_usd: numberOrUndefined(fields.monthly) });
  const limits = compact({ rpm: numberOrUndefined(fields.rpm), tpm: numberOrUndefined(fields.tpm) });
  const expires = isoFromLocal(fields.expires);
  const models = list(fields.models);
  const body: Record<string, unknown> = { tags: list(fields.tags) };
  if (fields.repo.trim()) body.repo = fields.repo.trim();
  if (budgets || clear) body.budgets = budgets ?? null;
  if (limits || clear) body.limits = limits ?? null;
  if (expires || clear) body.expires_at = expires ?? null;
  if (models.length) body.allowed_models = models;
  return body;
}

function KeyForm({ title, initial, centers, onSubmit, onCancel, submitLabel }: { title: string; initial: KeyFields; centers?: string[]; onSubmit: (fields: KeyFields) => Promise<void>; onCancel?: () => void; submitLabel: string }) {
  const [fields, setFields] = useState(initial);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (name: keyof KeyFields) => (value: string) => setFields((previous) => ({ ...previous, [name]: value }));
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit(fields);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="key-form filters" aria-label={title} onSubmit={submit}>
      {centers ? (
        <>
          <Field label="Developer" name="developer" value={fields.developer} onInput={set('developer')} />
          <label>
            Cost center
            <select name="cost_center" value={fields.cost_center} onChange={(event) => set('cost_center')((event.target as HTMLSelectElement).value)}>
              <option value="">choose…</option>
              {centers.map((name) => (
                <option value={name}>{name}</option>
              ))}
            </select>
          </label>
        </>
      ) : null}
      <Field label="Repository" name="repo" value={fields.repo} onInput={set('repo')} />
      <Field label="Tags (comma-separated)" name="tags" value={fields.tags} onInput={set('tags')} />
      <Field label="Daily budget (USD)" name="daily" type="number" value={fields.daily} onInput={set('daily')} />
      <Field label="Monthly budget (USD)" name="monthly" type="number" value={fields.monthly} onInput={set('monthly')} />
      <Field label="Expires" name="expires" type="datetime-local" value={fields.expires} onInput={set('expires')} />
      <Field label="Allowed models (comma-separated)" name="models" value={fields.models} onInput={set('models')} placeholder="all of the cost center's" />
      <Field label="Requests per minute" name="rpm" type="number" value={fields.rpm} onInput={set('rpm')} />
      <Field label="Tokens per minute" name="tpm" type="number" value={fields.tpm} onInput={set('tpm')} />
      <button type="submit" class="primary" disabled={busy || (centers !== undefined && (!fields.developer.trim() || !fields.cost_center))}>
        {busy ? 'Saving…' : submitLabel}
      </button>
      {onCancel ? (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

function SecretPanel({ shown, onDismiss }: { shown: ShownSecret; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string>();
  async function copy() {
    try {
      await navigator.clipboard.writeText(shown.secret);
      setCopied('Copied to the clipboard');
    } catch {
      // Without clipboard permission: select the text so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(document.querySelector('code.secret') as Node);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      setCopied('Selected: press Ctrl+C (the clipboard refused)');
    }
  }
  return (
    <div class="notice secret-panel" role="status" aria-label="new secret">
      <p>
        Key <code>{shown.id}</code> for {shown.developer} {shown.why}. Copy the secret now: it is shown this once and the gateway keeps only its hash.
      </p>
      <p>
        <code class="secret">{shown.secret}</code> <button onClick={() => void copy()}>Copy secret</button> <button onClick={onDismiss}>Done</button>
      </p>
      {copied ? <p class="muted">{copied}</p> : null}
    </div>
  );
}

function KeyActions({ keyView, onEdit, onRotate, onRevoke }: { keyView: KeyView; onEdit: () => void; onRotate: (grace: number) => void; onRevoke: () => void }) {
  const [grace, setGrace] = useState(3600);
  const [confirming, setConfirming] = useState(false);
  if (keyView.revoked_at) return <span class="muted">revoked</span>;
  return (
    <span class="key-actions">
      <button onClick={onEdit}>Edit</button>
      {keyView.source === 'bootstrap' ? (
        <span class="muted" title="Bootstrap keys live in the policy file: replace them there">policy file</span>
      ) : (
        <>
          <select aria-label="grace period" value={grace} onChange={(event) => setGrace(Number((event.target as HTMLSelectElement).value))}>
            <option value={0}>old secret: none</option>
            <option value={3600}>old secret: 1 h</option>
            <option value={43_200}>old secret: 12 h</option>
            <option value={86_400}>old secret: 24 h</option>
          </select>
          <button onClick={() => onRotate(grace)}>Rotate</button>
          {confirming ? (
            <button class="danger" onClick={onRevoke}>
              Confirm revoke
            </button>
          ) : (
            <button class="danger" onClick={() => setConfirming(true)}>
              Revoke
            </button>
          )}
        </>
      )}
    </span>
  );
}

/** Keys: admins create, update, rotate and revoke; other roles read. A secret is shown only once. */
export function KeysPage({ session }: { session: Session }) {
  const admin = session.role === 'admin';
  const keys = useLoad(() => getJson<{ keys: KeyView[] }>('/admin/keys').then((body) => body.keys), []);
  const policy = useLoad(() => activePolicy(), []);
  const [shown, setShown] = useState<ShownSecret>();
  const [editing, setEditing] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const [createdCount, setCreatedCount] = useState(0);
  const centers = Object.keys(policy.data?.document.cost_centers ?? {});

  async function act(run: () => Promise<void>) {
    setActionError(undefined);
    try {
      await run();
      keys.reload();
    } catch (failure) {
      setActionError((failure as Error).message);
    }
  }
  async function create(fields: KeyFields) {
    const created = await sendJson<KeyView & { key: string }>('POST', '/admin/keys', { developer: fields.developer.trim(), cost_center: fields.cost_center, ...optionalBody(fields, false) });
    setShown({ id: created.id, developer: created.developer, secret: created.key, why: 'created' });
    setCreatedCount((value) => value + 1); // a fresh, empty form for the next key
    keys.reload();
  }
  const rotate = (key: KeyView, grace: number) =>
    act(async () => {
      const rotated = await sendJson<KeyView & { key: string }>('POST', `/admin/keys/${encodeURIComponent(key.id)}/rotate`, { grace_seconds: grace });
      setShown({ id: rotated.id, developer: rotated.developer, secret: rotated.key, why: 'rotated' });
    });
  const revoke = (key: KeyView) => act(() => sendJson('DELETE', `/admin/keys/${encodeURIComponent(key.id)}`));
  async function update(key: KeyView, fields: KeyFields) {
    await sendJson('PATCH', `/admin/keys/${encodeURIComponent(key.id)}`, optionalBody(fields, true));
    setEditing(undefined);
    keys.reload();
  }
  const editedKey = (keys.data ?? []).find((key) => key.id === editing);

  return (
    <>
      {admin ? (
        <Section title="Create a key">
          <KeyForm key={createdCount} title="create key" initial={EMPTY_FIELDS} centers={centers} onSubmit={create} submitLabel="Create key" />
        </Section>
      ) : null}
      {shown ? <SecretPanel shown={shown} onDismiss={() => setShown(undefined)} /> : null}
      <Section title="Virtual keys">
        {admin ? null : <p class="muted">Read-only: creating, changing, rotating and revoking keys needs the admin role (you are {session.role}).</p>}
        <ErrorBox error={keys.error ?? actionError} />
        {editedKey ? (
          <KeyForm key={editedKey.id} title={`edit key ${editedKey.id}`} initial={fieldsOf(editedKey)} onSubmit={(fields) => update(editedKey, fields)} onCancel={() => setEditing(undefined)} submitLabel="Save changes" />
        ) : null}
        <KeysTable keys={keys.data ?? []} admin={admin} onEdit={setEditing} onRotate={rotate} onRevoke={revoke} />
      </Section>
    </>
  );
}

function KeysTable({ keys, admin, onEdit, onRotate, onRevoke }: { keys: KeyView[]; admin: boolean; onEdit: (id: string) => void; onRotate: (key: KeyView, grace: number) => void; onRevoke: (key: KeyView) => void }) {
  return (
    <Table
      label="keys"
      rows={keys}
      empty="No keys yet."
      columns={[
        { label: 'Key', value: (key) => (key.key_prefix ? <code title={key.id}>{key.key_prefix}…</code> : <span class="muted" title={key.id}>in the policy file</span>) },
        { label: 'Developer', value: (key) => key.developer },
        { label: 'Cost center', value: (key) => key.cost_center },
        { label: 'Status', value: (key) => <span class={`badge status-${statusOf(key)}`}>{statusOf(key)}</span> },
        { label: 'Tags', value: (key) => key.tags.join(', ') },
        { label: 'Budgets', value: (key) => (key.budgets ? [key.budgets.daily_usd ? `${money(key.budgets.daily_usd)}/day` : '', key.budgets.monthly_usd ? `${money(key.budgets.monthly_usd)}/month` : ''].filter(Boolean).join(' · ') : '') },
        { label: 'Limits', value: (key) => (key.limits ? [key.limits.rpm ? `${key.limits.rpm} rpm` : '', key.limits.tpm ? `${key.limits.tpm} tpm` : ''].filter(Boolean).join(' · ') : '') },
        { label: 'Models', value: (key) => (key.allowed_models?.length ? key.allowed_models.join(', ') : 'cost center’s') },
        { label: 'Expires', value: (key) => (key.expires_at ? dateTime(key.expires_at) : 'never') },
        { label: 'Source', value: (key) => key.source },
        { label: 'Created', value: (key) => `${dateTime(key.created_at)}${key.created_by ? ` by ${key.created_by}` : ''}` },
        ...(admin ? [{ label: 'Actions', value: (key: KeyView) => <KeyActions keyView={key} onEdit={() => onEdit(key.id)} onRotate={(grace) => onRotate(key, grace)} onRevoke={() => onRevoke(key)} /> }] : []),
      ]}
    />
  );
}
