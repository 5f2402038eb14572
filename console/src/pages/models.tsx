import { useMemo } from 'preact/hooks';
import { database, num, sql } from '../api.ts';
import { Chart, type ChartSeries } from '../chart.tsx';
import { count, dayRange, daySeconds, money, percent } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';
import { pivot } from './spend.tsx';

interface QualityCell {
  score: number;
  samples: number;
}

/** Cost and quality per served model: spend from `spans`, scores from `eval_scores`. */
// Over 60 lines: a React page: the queries and markup of one screen, read top to bottom.
export function ModelsPage({ days, theme }: { days: number; theme: string }) {
  const db = database();
  const range = useMemo(() => dayRange(days), [days]);
  const costs = useLoad(
    () =>
      sql(
        `SELECT served_model AS model, any(provider) AS provider, count() AS requests, sum(cost_usd) AS cost, sum(cost_usd) / count() AS cost_per_request,
                sum(input_tokens) AS input_total, sum(output_tokens) AS output_total, countIf(status_code >= 400) / count() AS error_rate,
                quantile(0.5)(duration_ms) AS p50_ms
         FROM ${db}.spans WHERE ts >= today() - ${days - 1} AND served_model != '' GROUP BY model ORDER BY cost DESC`,
      ),
    [days],
  );
  const quality = useLoad(
    () =>
      sql(
        `SELECT served_model AS model, scorer, avg(value) AS score, count() AS samples
         FROM ${db}.eval_scores FINAL WHERE ts >= today() - ${days - 1} AND served_model != '' GROUP BY model, scorer ORDER BY model, scorer`,
      ),
    [days],
  );
  const daily = useLoad(
    () =>
      sql(
        `SELECT toString(toDate(ts)) AS day, served_model AS key, sum(cost_usd) AS value FROM ${db}.spans
         WHERE ts >= today() - ${days - 1} AND served_model != '' GROUP BY day, key ORDER BY day`,
      ),
    [days],
  );
  const scorers = [...new Set((quality.data ?? []).map((row) => String(row.scorer)))];
  const byModel = new Map<string, Map<string, QualityCell>>();
  for (const row of quality.data ?? []) {
    const model = String(row.model);
    if (!byModel.has(model)) byModel.set(model, new Map());
    byModel.get(model)?.set(String(row.scorer), { score: num(row.score), samples: num(row.samples) });
  }
  const models = [...new Set((daily.data ?? []).map((row) => String(row.key)))];
  const series = useMemo<ChartSeries[]>(() => {
    const pivoted = pivot(daily.data ?? [], range, models);
    return models.map((model) => ({ label: model, values: pivoted.get(model) ?? [] }));
  }, [daily.data, range]);
  return (
    <>
      <Section title="Cost and quality per model">
        <ErrorBox error={costs.error} />
        {quality.error ? <p class="muted">Quality scores unavailable: {quality.error}</p> : null}
        <Table
          label="models"
          rows={costs.data ?? []}
          columns={[
            { label: 'Model', value: (row) => <strong>{String(row.model)}</strong> },
            { label: 'Provider', value: (row) => String(row.provider) },
            { label: 'Requests', value: (row) => count(row.requests), numeric: true },
            { label: 'Cost', value: (row) => money(row.cost), numeric: true },
            { label: 'Per request', value: (row) => money(row.cost_per_request), numeric: true },
            { label: 'Errors', value: (row) => percent(row.error_rate), numeric: true },
            { label: 'p50 latency', value: (row) => `${Math.round(num(row.p50_ms))} ms`, numeric: true },
            ...scorers.map((scorer) => ({
              label: scorer.replaceAll('_', ' '),
              numeric: true,
              value: (row: Record<string, unknown>) => {
                const cell = byModel.get(String(row.model))?.get(scorer);
                return cell ? <span title={`${cell.samples} samples`}>{cell.score.toFixed(3)}</span> : <span class="muted">—</span>;
              },
            })),
          ]}
        />
      </Section>
      <Section title="Daily cost per model">
        <ErrorBox error={daily.error} />
        <Chart title={`Spend per served model, last ${days} days`} x={models.length ? range.map(daySeconds) : []} series={series} yFormat={money} theme={theme} />
      </Section>
    </>
  );
}
