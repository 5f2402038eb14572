import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs an async loader when its dependencies change; keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState({ error: (error as Error).message, loading: false }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((value) => value + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function ErrorBox({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions ? <div class="card-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export interface Column<T> {
  label: string;
  value: (row: T) => ComponentChildren;
  numeric?: boolean;
}

export function Table<T>({ rows, columns, empty = 'Nothing here yet.', label }: { rows: T[]; columns: Column<T>[]; empty?: string; label: string }) {
  if (rows.length === 0) return <p class="empty">{empty}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th class={column.numeric ? 'num' : ''}>{column.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr>
              {columns.map((column) => (
                <td class={column.numeric ? 'num' : ''}>{column.value(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A budget meter: share used with the stage colour the gateway would apply. */
export function Meter({ share }: { share: number | undefined }) {
  if (share === undefined || !Number.isFinite(share)) return <span class="muted">no budget</span>;
  const stage = share >= 1.1 ? 'pause' : share >= 0.95 ? 'downgrade' : share >= 0.8 ? 'alert' : 'ok';
  return (
    <span class={`meter stage-${stage}`} title={`${stage}: ${(share * 100).toFixed(1)}% of budget`}>
      <span class="meter-bar" style={{ width: `${Math.min(share, 1.2) * (100 / 1.2)}%` }} />
      <span class="meter-text">{(share * 100).toFixed(0)}%</span>
    </span>
  );
}

/** Starts a download of text the page built (CSV) or fetched (JSON Lines). */
export function download(filename: string, text: string | Blob, type = 'text/plain'): void {
  const blob = typeof text === 'string' ? new Blob([text], { type }) : text;
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
