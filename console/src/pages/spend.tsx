import { useMemo, useState } from 'preact/hooks';
import { activePolicy, database, num, quote, sql, type PolicyDocument } from '../api.ts';
import { Chart, PALETTE, type ChartSeries } from '../chart.tsx';
import { dayRange, daySeconds, money } from '../format.ts';
import { ErrorBox, Meter, Section, Table, useLoad } from '../ui.tsx';
import { QualityBesideSpend } from './quality.tsx';

interface Props {
  days: number;
  theme: string;
}

interface CenterTotals {
  cost_center: string;
  today: number;
  month: number;
  requests: number;
}

interface DeveloperTotals extends CenterTotals {
  developer: string;
}

/** Pivots (day, key, value) rows onto the full day range so every series has one value per day. */
export function pivot(rows: Record<string, unknown>[], days: string[], keys: string[]): Map<string, (number | null)[]> {
  const index = new Map(days.map((day, position) => [day, position]));
  const result = new Map(keys.map((key) => [key, days.map(() => 0 as number | null)]));
  for (const row of rows) {
    const position = index.get(String(row.day).slice(0, 10));
    const series = result.get(String(row.key));
    if (position !== undefined && series) series[position] = num(row.value);
  }
  return result;
}

function budgetsOf(policy: PolicyDocument | undefined, center: string) {
  return policy?.cost_centers?.[center]?.budgets;
}

// Over 60 lines: a React page: the queries and markup of one screen; its data shaping lives in pivot, budgetsOf and share.
export function SpendPage({ days, theme }: Props) {
  const [center, setCenter] = useState('');
  const db = database();
  const range = useMemo(() => dayRange(days), [days]);
  const policy = useLoad(() => activePolicy(), []);
  const centers = useLoad(
    () =>
      sql<CenterTotals & Record<string, unknown>>(
        `SELECT cost_center, sumIf(cost_usd, toDate(ts) = today()) AS today, sumIf(cost_usd, toStartOfMonth(ts) = toStartOfMonth(today())) AS month, count() AS requests
         FROM ${db}.spans WHERE ts >= toStartOfMonth(today()) - INTERVAL ${days} DAY GROUP BY cost_center ORDER BY month DESC`,
      ),
    [days],
  );
  const daily = useLoad(
    () => sql(`SELECT toString(toDate(ts)) AS day, cost_center AS key, sum(cost_usd) AS value FROM ${db}.spans WHERE ts >= today() - ${days - 1} GROUP BY day, key ORDER BY day`),
    [days],
  );
  const developerFilter = center ? `AND cost_center = ${quote(center)}` : '';
  const developers = useLoad(
    () =>
      sql<DeveloperTotals & Record<string, unknown>>(
        `SELECT developer, any(cost_center) AS cost_center, sumIf(cost_usd, toDate(ts) = today()) AS today,
                sumIf(cost_usd, toStartOfMonth(ts) = toStartOfMonth(today())) AS month, countIf(ts >= today() - ${days - 1}) AS requests,
                sumIf(cost_usd, ts >= today() - ${days - 1}) AS period
         FROM ${db}.spans WHERE ts >= least(toStartOfMonth(today()), today() - ${days - 1}) ${developerFilter}
         GROUP BY developer ORDER BY period DESC LIMIT 50`,
      ),
    [days, center],
  );
  const developerDaily = useLoad(
    () =>
      sql(
        `SELECT toString(toDate(ts)) AS day, developer AS key, sum(cost_usd) AS value FROM ${db}.spans
         WHERE ts >= today() - ${days - 1} ${developerFilter}
           AND developer IN (SELECT developer FROM ${db}.spans WHERE ts >= today() - ${days - 1} ${developerFilter} GROUP BY developer ORDER BY sum(cost_usd) DESC LIMIT 6)
         GROUP BY day, key ORDER BY day`,
      ),
    [days, center],
  );

  const document = policy.data?.document;
  const centerNames = (centers.data ?? []).map((row) => String(row.cost_center));
  const centerSeries = useMemo<ChartSeries[]>(() => {
    const pivoted = pivot(daily.data ?? [], range, centerNames);
    const series: ChartSeries[] = [];
    centerNames.forEach((name, index) => {
      const color = PALETTE[index % PALETTE.length];
      series.push({ label: name, values: pivoted.get(name) ?? [], color });
      const budget = budgetsOf(document, name)?.cost_center?.daily_usd;
      if (budget) series.push({ label: `${name} daily budget`, values: range.map(() => budget), color, dash: true, reference: true });
    });
    return series;
  }, [daily.data, range, centerNames.join(','), document]);
  const developerNames = [...new Set((developerDaily.data ?? []).map((row) => String(row.key)))];
  const developerSeries = useMemo<ChartSeries[]>(() => {
    const pivoted = pivot(developerDaily.data ?? [], range, developerNames);
    const series: ChartSeries[] = developerNames.map((name) => ({ label: name, values: pivoted.get(name) ?? [] }));
    const budget = center ? budgetsOf(document, center)?.developer?.daily_usd : undefined;
    if (budget) series.push({ label: 'developer daily budget', values: range.map(() => budget), color: '#d1495b', dash: true, reference: true });
    return series;
  }, [developerDaily.data, range, developerNames.join(','), document, center]);
  const x = useMemo(() => range.map(daySeconds), [range]);

  return (
    <>
      <Section title="Spend vs budget per cost center">
        <ErrorBox error={centers.error ?? daily.error} />
        <Chart title={`Daily spend, last ${days} days (dashed: daily budget)`} x={centerNames.length ? x : []} series={centerSeries} yFormat={money} theme={theme} />
        <Table
          label="cost centers"
          rows={centers.data ?? []}
          empty="No traffic recorded yet."
          columns={[
            { label: 'Cost center', value: (row) => <button class="link" onClick={() => setCenter(String(row.cost_center))}>{String(row.cost_center)}</button> },
            { label: 'Today', value: (row) => money(row.today), numeric: true },
            { label: 'Daily budget', value: (row) => money(budgetsOf(document, String(row.cost_center))?.cost_center?.daily_usd ?? 0), numeric: true },
            { label: 'Used today', value: (row) => <Meter share={share(row.today, budgetsOf(document, String(row.cost_center))?.cost_center?.daily_usd)} /> },
            { label: 'Month to date', value: (row) => money(row.month), numeric: true },
            { label: 'Monthly budget', value: (row) => money(budgetsOf(document, String(row.cost_center))?.cost_center?.monthly_usd ?? 0), numeric: true },
            { label: 'Used this month', value: (row) => <Meter share={share(row.month, budgetsOf(document, String(row.cost_center))?.cost_center?.monthly_usd)} /> },
          ]}
        />
      </Section>
      <Section
        title={`Spend per developer${center ? ` in ${center}` : ''}`}
        actions={
          <label>
            Cost center{' '}
            <select value={center} onChange={(event) => setCenter((event.target as HTMLSelectElement).value)}>
              <option value="">all</option>
              {centerNames.map((name) => (
                <option value={name}>{name}</option>
              ))}
            </select>
          </label>
        }
      >
        <ErrorBox error={developers.error ?? developerDaily.error} />
        <Chart title="Daily spend of the top developers" x={developerNames.length ? x : []} series={developerSeries} yFormat={money} theme={theme} />
        <Table
          label="developers"
          rows={developers.data ?? []}
          columns={[
            { label: 'Developer', value: (row) => String(row.developer) },
            { label: 'Cost center', value: (row) => String(row.cost_center) },
            { label: `Requests (${days}d)`, value: (row) => num(row.requests).toLocaleString(), numeric: true },
            { label: 'Today', value: (row) => money(row.today), numeric: true },
            { label: 'Used today', value: (row) => <Meter share={share(row.today, budgetsOf(document, String(row.cost_center))?.developer?.daily_usd)} /> },
            { label: 'Month to date', value: (row) => money(row.month), numeric: true },
            { label: 'Used this month', value: (row) => <Meter share={share(row.month, budgetsOf(document, String(row.cost_center))?.developer?.monthly_usd)} /> },
          ]}
        />
      </Section>
      <QualityBesideSpend group="cost_center" days={days} />
      <QualityBesideSpend group="developer" days={days} />
    </>
  );
}

function share(spent: unknown, budget: number | undefined): number | undefined {
  return budget ? num(spent) / budget : undefined;
}
