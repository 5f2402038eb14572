import type { ScoreSink } from '../../../evaluator/score-rows.ts';

/** Keeps every row written, with the time it arrived. */
export class RecordingSink implements ScoreSink {
  readonly rows: { table: string; row: Record<string, unknown>; atMillis: number }[] = [];

  write(table: string, rows: Record<string, unknown>[]): void {
    const atMillis = Date.now();
    for (const row of rows) this.rows.push({ table, row, atMillis });
  }

  scores(): Record<string, unknown>[] {
    return this.rows.filter((entry) => entry.table === 'eval_scores').map((entry) => entry.row);
  }

  /** Score rows reduced to what must be equal across runs: the latest per (session, request, scorer). */
  normalizedScores(): Record<string, unknown>[] {
    const latest = new Map<string, Record<string, unknown>>();
    for (const row of this.scores()) {
      const { scored_at: _scoredAt, ...rest } = row;
      latest.set(`${String(row.session_id)}|${String(row.request_id)}|${String(row.scorer)}`, rest);
    }
    return [...latest.entries()].sort(([left], [right]) => left.localeCompare(right)).map(([, row]) => row);
  }
}

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMillis: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
