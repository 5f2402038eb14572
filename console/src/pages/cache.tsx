import { useMemo, useState } from 'preact/hooks';
import { database, num, sql } from '../api.ts';
import { Chart, type ChartSeries } from '../chart.tsx';
import { count, dayRange, daySeconds, percent } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';
import { pivot } from './spend.tsx';

const GROUPS = { developer: 'Developer', repo: 'Repository', session_id: 'Session', cost_center: 'Cost center' } as const;
type Group = keyof typeof GROUPS;

/** Prompt-cache hit rate: cached input tokens / input tokens (OpenAI's convention: input includes cached). */
// Over 60 lines: a React page: the queries and markup of one screen, read top to bottom; the pivot lives in spend.tsx.
export function CachePage({ days, theme }: { days: number; theme: string }) {
  const [group, setGroup] = useState<Group>('developer');
  const db = database();
  const range = useMemo(() => dayRange(days), [days]);
  const daily = useLoad(
    () =>
      sql(
        `SELECT toString(toDate(ts)) AS day, cost_center AS key, sum(cached_input_tokens) / greatest(sum(input_tokens), 1) AS value
         FROM ${db}.spans WHERE ts >= today() - ${days - 1} AND input_tokens > 0 GROUP BY day, key ORDER BY day`,
      ),
    [days],
  );
  const overall = useLoad(
    () =>
      sql(
        `SELECT toString(toDate(ts)) AS day, 'all traffic' AS key, sum(cached_input_tokens) / greatest(sum(input_tokens), 1) AS value
         FROM ${db}.spans WHERE ts >= today() - ${days - 1} AND input_tokens > 0 GROUP BY day ORDER BY day`,
      ),
    [days],
  );
  const table = useLoad(
    () =>
      sql(
        `SELECT ${group} AS name, count() AS requests, sum(input_tokens) AS input_total, sum(cached_input_tokens) AS cached_total,
                cached_total / greatest(input_total, 1) AS hit_rate
         FROM ${db}.spans WHERE ts >= today() - ${days - 1} AND input_tokens > 0 GROUP BY name ORDER BY input_total DESC LIMIT 100`,
      ),
    [days, group],
  );
  const series = useMemo<ChartSeries[]>(() => {
    const keys = [...new Set((daily.data ?? []).map((row) => String(row.key)))];
    const centers = pivot(daily.data ?? [], range, keys);
    const all = pivot(overall.data ?? [], range, ['all traffic']);
    const nullWhereEmpty = (values: (number | null)[]) => values.map((value) => (value === 0 ? null : value));
    return [
      { label: 'all traffic', values: nullWhereEmpty(all.get('all traffic') ?? []), color: '#6c757d', dash: true },
      ...keys.map((key) => ({ label: key, values: nullWhereEmpty(centers.get(key) ?? []) })),
    ];
  }, [daily.data, overall.data, range]);
  return (
    <>
      <Section title="Prompt-cache hit rate">
        <ErrorBox error={daily.error ?? overall.error} />
        <Chart
          title={`Cached share of input tokens per day, last ${days} days`}
          x={(overall.data ?? []).length ? range.map(daySeconds) : []}
          series={series}
          yFormat={(value) => percent(value, 0)}
          theme={theme}
        />
      </Section>
      <Section
        title={`Hit rate per ${GROUPS[group].toLowerCase()}`}
        actions={
          <label>
            Group by{' '}
            <select value={group} onChange={(event) => setGroup((event.target as HTMLSelectElement).value as Group)}>
              {Object.entries(GROUPS).map(([value, label]) => (
                <option value={value}>{label}</option>
              ))}
            </select>
          </label>
        }
      >
        <ErrorBox error={table.error} />
        <Table
          label="cache hit rate"
          rows={table.data ?? []}
          columns={[
            { label: GROUPS[group], value: (row) => String(row.name) || '(none)' },
            { label: 'Requests', value: (row) => count(row.requests), numeric: true },
            { label: 'Input tokens', value: (row) => count(row.input_total), numeric: true },
            { label: 'Cached tokens', value: (row) => count(row.cached_total), numeric: true },
            { label: 'Hit rate', value: (row) => <strong class={num(row.hit_rate) < 0.3 ? 'bad' : ''}>{percent(row.hit_rate)}</strong>, numeric: true },
          ]}
        />
      </Section>
    </>
  );
}
