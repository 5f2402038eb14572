// Cost of journaling one span row (WriteAheadJournal.append: one write(2) on an open descriptor),
// and of the once-a-second fdatasync. Usage: node bench/journal-append-bench.ts [rows]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteAheadJournal } from '../shared/storage/write-ahead-journal.ts';

const rows = Number(process.argv[2] ?? 100_000);
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-journal-bench-'));
const journal = new WriteAheadJournal(directory, 'spans', Number.MAX_SAFE_INTEGER);
const line = JSON.stringify({ ts: '2026-12-06 12:00:00.000', request_id: 'req_0123456789abcdef', session_id: 'sess', developer: 'alice', cost_center: 'platform', requested_model: 'gpt-5.5', served_model: 'gpt-5.5', provider: 'openai', input_tokens: 12000, output_tokens: 800, cost_usd: 0.023, translation_warnings: [], padding: 'x'.repeat(900) });
// `perTurn` rows share one write (the rows of one event-loop turn): 1 = a write per row.
for (const perTurn of [1, 10, 40]) {
  for (let round = 1; round <= 2; round += 1) {
    const begin = process.hrtime.bigint();
    for (let index = 0; index < rows; index += 1) {
      journal.append(line);
      if ((index + 1) % perTurn === 0) journal.writePending();
    }
    journal.writePending();
    const appendNanos = Number(process.hrtime.bigint() - begin);
    const syncBegin = process.hrtime.bigint();
    journal.sync();
    const syncMillis = Number(process.hrtime.bigint() - syncBegin) / 1e6;
    console.log(`${perTurn} rows per write, round ${round}: ${rows} rows of ${line.length + 1} B: ${(appendNanos / rows / 1000).toFixed(2)} µs/row; fdatasync after them ${syncMillis.toFixed(1)} ms`);
    journal.reset([]);
  }
}
journal.close();
rmSync(directory, { recursive: true, force: true });
