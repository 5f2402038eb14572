import { database, num, sql } from '../api.ts';
import { count, money } from '../format.ts';
import { ErrorBox, Section, Table, useLoad } from '../ui.tsx';

/** The outcome scorers shown beside spend (evaluator/scorers): session and turn scores alike. */
export const QUALITY_SCORERS = [
  ['tool_use_accuracy', 'Tool-use accuracy'],
  ['task_completion', 'Task completion'],
  ['code_correctness', 'Code correctness'],
] as const;

const GROUPS = { cost_center: 'cost center', developer: 'developer' } as const;

interface QualityRow {
  name: string;
  spend: number;
  turns: number;
  scores: Map<string, { score: number; samples: number }>;
}

/** Spend from `spans` and average scores from `eval_scores FINAL` over the same period, merged per name. */
async function loadQuality(group: keyof typeof GROUPS, days: number): Promise<QualityRow[]> {
  const db = database();
  const scorers = QUALITY_SCORERS.map(([scorer]) => `'${scorer}'`).join(', ');
  const [spend, scores] = await Promise.all([
    sql(`SELECT ${group} AS name, sum(cost_usd) AS spend, count() AS turns FROM ${db}.spans WHERE ts >= today() - ${days - 1} GROUP BY name ORDER BY spend DESC LIMIT 100`),
    sql(
      `SELECT ${group} AS name, scorer, avg(value) AS score, count() AS samples FROM ${db}.eval_scores FINAL
       WHERE ts >= today() - ${days - 1} AND scorer IN (${scorers}) AND NOT dry_run GROUP BY name, scorer`,
    ),
  ]);
  const rows = new Map<string, QualityRow>(spend.map((row) => [String(row.name), { name: String(row.name), spend: num(row.spend), turns: num(row.turns), scores: new Map() }]));
  for (const row of scores) {
    const name = String(row.name);
    if (!rows.has(name)) rows.set(name, { name, spend: 0, turns: 0, scores: new Map() });
    rows.get(name)?.scores.set(String(row.scorer), { score: num(row.score), samples: num(row.samples) });
  }
  return [...rows.values()];
}

/** Quality per cost center or developer beside what it cost, for the period selected in the toolbar. */
export function QualityBesideSpend({ group, days }: { group: keyof typeof GROUPS; days: number }) {
  const loaded = useLoad(() => loadQuality(group, days), [group, days]);
  const label = GROUPS[group];
  return (
    <Section title={`Quality and spend per ${label}, last ${days} days`}>
      <ErrorBox error={loaded.error} />
      <Table
        label={`quality per ${label}`}
        rows={loaded.data ?? []}
        empty="No traffic in this period."
        columns={[
          { label: label.charAt(0).toUpperCase() + label.slice(1), value: (row) => row.name || '(none)' },
          { label: 'Spend', value: (row) => money(row.spend), numeric: true },
          { label: 'Turns', value: (row) => count(row.turns), numeric: true },
          { label: 'Per turn', value: (row) => (row.turns ? money(row.spend / row.turns) : '—'), numeric: true },
          ...QUALITY_SCORERS.map(([scorer, title]) => ({
            label: title,
            numeric: true,
            value: (row: QualityRow) => {
              const cell = row.scores.get(scorer);
              return cell ? <span title={`${cell.samples} scores`}>{cell.score.toFixed(3)}</span> : <span class="muted" title="not scored in this period">—</span>;
            },
          })),
        ]}
      />
    </Section>
  );
}
