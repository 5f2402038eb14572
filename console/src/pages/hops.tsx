import { useMemo } from 'preact/hooks';
import { database, sql } from '../api.ts';
import { Chart, type ChartSeries } from '../chart.tsx';
import { count, dateTime, dayRange, daySeconds } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';
import { pivot } from './spend.tsx';

/** Fallback hops: turns served by another model (and often another provider) than first tried. */
// Over 60 lines: a React page: the queries and markup of one screen, read top to bottom; the pivot lives in spend.tsx.
export function HopsPage({ days, theme }: { days: number; theme: string }) {
  const db = database();
  const range = useMemo(() => dayRange(days), [days]);
  const where = `ts >= today() - ${days - 1} AND (fallback_from != '' OR hop_reason != '')`;
  const daily = useLoad(
    () => sql(`SELECT toString(toDate(ts)) AS day, if(hop_reason = '', 'unspecified', hop_reason) AS key, count() AS value FROM ${db}.spans WHERE ${where} GROUP BY day, key ORDER BY day`),
    [days],
  );
  const routes = useLoad(
    () =>
      sql(
        `SELECT fallback_from AS from_model, served_model AS to_model, provider, hop_reason, count() AS hops, uniqExact(session_id) AS sessions
         FROM ${db}.spans WHERE ${where} GROUP BY from_model, to_model, provider, hop_reason ORDER BY hops DESC LIMIT 50`,
      ),
    [days],
  );
  const recent = useLoad(
    () =>
      sql(
        `SELECT toString(s.ts) AS ts, s.request_id AS request_id, s.cost_center AS cost_center, s.developer AS developer, s.requested_model AS requested_model,
                s.fallback_from AS fallback_from, s.served_model AS served_model, s.provider AS provider, s.hop_reason AS hop_reason, s.status_code AS status_code,
                a.path AS attempts
         FROM (SELECT * FROM ${db}.spans WHERE ${where} ORDER BY ts DESC LIMIT 100) AS s
         LEFT JOIN (
           SELECT request_id, arrayStringConcat(arrayMap(t -> concat(t.2, '/', t.3, ' ', toString(t.4)), arraySort(groupArray((ts, provider, model, status_code)))), ' → ') AS path
           FROM ${db}.upstream_attempts WHERE ts >= today() - ${days - 1} GROUP BY request_id
         ) AS a ON a.request_id = s.request_id
         ORDER BY s.ts DESC`,
      ),
    [days],
  );
  const reasons = [...new Set((daily.data ?? []).map((row) => String(row.key)))];
  const series = useMemo<ChartSeries[]>(() => {
    const pivoted = pivot(daily.data ?? [], range, reasons);
    return reasons.map((reason) => ({ label: reason, values: pivoted.get(reason) ?? [] }));
  }, [daily.data, range]);
  return (
    <>
      <Section title="Cross-provider hops">
        <ErrorBox error={daily.error ?? routes.error} />
        <Chart title={`Hops per day by reason, last ${days} days`} x={reasons.length ? range.map(daySeconds) : []} series={series} yFormat={(value) => count(value)} theme={theme} />
        <Table
          label="hop routes"
          rows={routes.data ?? []}
          empty="No fallback hops in this period."
          columns={[
            { label: 'From', value: (row) => String(row.from_model) || '—' },
            { label: 'To', value: (row) => String(row.to_model) },
            { label: 'Provider', value: (row) => String(row.provider) },
            { label: 'Reason', value: (row) => String(row.hop_reason) || '—' },
            { label: 'Hops', value: (row) => count(row.hops), numeric: true },
            { label: 'Sessions', value: (row) => count(row.sessions), numeric: true },
          ]}
        />
      </Section>
      <Section title="Recent hops">
        <ErrorBox error={recent.error} />
        <Table
          label="recent hops"
          rows={recent.data ?? []}
          empty="No fallback hops in this period."
          columns={[
            { label: 'Time (UTC)', value: (row) => dateTime(row.ts) },
            { label: 'Request', value: (row) => <code>{String(row.request_id)}</code> },
            { label: 'Cost center', value: (row) => String(row.cost_center) },
            { label: 'Developer', value: (row) => String(row.developer) },
            { label: 'Requested', value: (row) => String(row.requested_model) },
            { label: 'Fallback from', value: (row) => String(row.fallback_from) },
            { label: 'Served', value: (row) => `${String(row.served_model)} (${String(row.provider)})` },
            { label: 'Reason', value: (row) => String(row.hop_reason) },
            { label: 'Attempts (provider/model status)', value: (row) => <code>{String(row.attempts ?? '') || '—'}</code> },
            { label: 'Status', value: (row) => String(row.status_code), numeric: true },
          ]}
        />
      </Section>
    </>
  );
}
