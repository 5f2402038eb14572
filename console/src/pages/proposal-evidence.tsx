import { database, num, quote, sql } from '../api.ts';
import { count, money, percent } from '../format.ts';
import { Table, useLoad } from '../ui.tsx';

/** Parses JSON text, leaving anything else as it is. */
export function parsed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** `predictedMonthlySavingUsd` / `predicted_monthly_saving_usd` → "predicted monthly saving usd". */
function words(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replaceAll('_', ' ')
    .toLowerCase();
}

function isInterval(value: unknown): value is { mean: number; lower: number; upper: number } {
  return typeof value === 'object' && value !== null && ['mean', 'lower', 'upper'].every((key) => typeof (value as Record<string, unknown>)[key] === 'number');
}

function show(value: unknown): string {
  if (typeof value === 'number') return Number(value.toFixed(6)).toLocaleString('en-US');
  if (isInterval(value)) return `${show(value.mean)} [${show(value.lower)} – ${show(value.upper)}]`;
  if (Array.isArray(value)) return value.map(show).join(' – ');
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return Object.entries(value).map(([key, item]) => `${words(key)}: ${show(item)}`).join(' · ');
  return String(value);
}

interface OptimizerMath {
  predictedMonthlySavingUsd?: number;
  predictedRegression?: { mean: number; upperBound: number; credibleLevel: number; limit: number };
  trafficShare?: number;
  baselineQuality?: { mean: number; lower: number; upper: number };
  predictedQuality?: { mean: number; lower: number; upper: number };
  samples?: { affectedTurns?: number };
}

/** The optimizer's headline numbers, then every figure it recorded. */
export function MathView({ math }: { math: unknown }) {
  const value = parsed(math);
  if (value === undefined || value === null || value === '') return <p class="muted">No math attached (human proposal).</p>;
  if (typeof value !== 'object' || Array.isArray(value)) return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
  const optimizer = value as OptimizerMath;
  const regression = optimizer.predictedRegression;
  return (
    <div class="math">
      {optimizer.predictedMonthlySavingUsd !== undefined ? (
        <p class="headline">
          <strong>saving {money(optimizer.predictedMonthlySavingUsd)}/month</strong>
          {regression ? (
            <>
              {' '}
              · predicted regression {percent(Math.max(0, regression.mean), 2)} (upper bound {percent(regression.upperBound, 2)} at {percent(regression.credibleLevel, 0)}; limit {percent(regression.limit, 2)})
            </>
          ) : null}
          {optimizer.trafficShare !== undefined ? <> · {percent(optimizer.trafficShare)} of the cost center's turns{optimizer.samples?.affectedTurns ? ` (${count(optimizer.samples.affectedTurns)})` : ''}</> : null}
        </p>
      ) : null}
      <dl>
        {Object.entries(value as Record<string, unknown>).map(([key, item]) => (
          <>
            <dt>{words(key)}</dt>
            <dd>{show(item)}</dd>
          </>
        ))}
      </dl>
    </div>
  );
}

/** Rule ids a proposal adds or changes, from the governance diff (`rules[id=…]`) or an RFC 6902 patch. */
export function ruleIdsOf(diff: unknown): string[] {
  const value = parsed(diff) as { changes?: { path?: string; after?: { id?: string } }[] } | { value?: { id?: string } }[] | undefined;
  const ids = new Set<string>();
  const changes = Array.isArray(value) ? value : (value?.changes ?? []);
  for (const change of changes as { path?: string; after?: { id?: string }; value?: { id?: string } }[]) {
    const fromPath = /rules\[id=([^\]]+)\]/.exec(change.path ?? '')?.[1];
    const id = fromPath ?? change.after?.id ?? change.value?.id;
    if (id) ids.add(id);
  }
  return [...ids];
}

/**
 * What the proposal's rules did while they ran in dry run: turns they would have routed, their
 * cost, and eval scores of those turns (spans.rule_dry_run, quality_by_rule with dry_run).
 */
export function DryRunView({ diff, fallback }: { diff: unknown; fallback: unknown }) {
  const db = database();
  const ids = ruleIdsOf(diff);
  const list = ids.map(quote).join(', ');
  const traffic = useLoad(
    () =>
      ids.length === 0
        ? Promise.resolve([])
        : sql(
            `SELECT rule_id, count() AS turns, sum(cost_usd) AS spend, min(ts) AS first_seen, max(ts) AS last_seen
             FROM ${db}.spans WHERE rule_dry_run AND rule_id IN (${list}) GROUP BY rule_id`,
          ),
    [list],
  );
  const quality = useLoad(
    () =>
      ids.length === 0
        ? Promise.resolve([])
        : sql(`SELECT rule_id, served_model, scorer, scores, avg_score FROM ${db}.quality_by_rule WHERE dry_run AND rule_id IN (${list}) ORDER BY rule_id, scorer`),
    [list],
  );
  const recorded = parsed(fallback);
  if (ids.length === 0 && recorded === undefined) return <p class="muted">This proposal adds no routing rule; nothing ran in dry run.</p>;
  return (
    <div class="dry-run">
      {recorded !== undefined ? <pre class="json">{JSON.stringify(recorded, null, 2)}</pre> : null}
      {ids.length > 0 && (traffic.data ?? []).length === 0 && !traffic.loading ? (
        <p class="muted">No dry-run traffic yet for {ids.join(', ')}.</p>
      ) : null}
      <Table
        label="dry-run traffic"
        rows={traffic.data ?? []}
        empty=""
        columns={[
          { label: 'Rule', value: (row) => <code>{String(row.rule_id)}</code> },
          { label: 'Turns it would route', value: (row) => count(row.turns), numeric: true },
          { label: 'Their cost', value: (row) => money(row.spend), numeric: true },
        ]}
      />
      <Table
        label="dry-run quality"
        rows={quality.data ?? []}
        empty=""
        columns={[
          { label: 'Scorer', value: (row) => String(row.scorer).replaceAll('_', ' ') },
          { label: 'Model', value: (row) => String(row.served_model) },
          { label: 'Scores', value: (row) => count(row.scores), numeric: true },
          { label: 'Mean', value: (row) => num(row.avg_score).toFixed(3), numeric: true },
        ]}
      />
    </div>
  );
}
