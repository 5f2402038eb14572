import { describe, expect, it } from 'vitest';
import { formatTime, printRecords, renderTable } from '../../cli/output.ts';
import type { CliIo } from '../../cli/cli-io.ts';

function captureIo(columns: number): CliIo & { text: () => string } {
  const out: string[] = [];
  return { out: (text) => void out.push(text), error: () => undefined, columns, text: () => out.join('\n') };
}

describe('CLI output', () => {
  it('prints every time in one format with its zone, whatever the store returned', () => {
    // ClickHouse returns DateTime64 without a zone (written in UTC); a fresh row carries ISO with Z.
    expect(formatTime('2026-12-06 20:45:14.123')).toBe('2026-12-06 20:45:14 UTC');
    expect(formatTime('2026-12-06T20:45:14.123Z')).toBe('2026-12-06 20:45:14 UTC');
    expect(formatTime('2026-12-06T21:45:14+01:00')).toBe('2026-12-06 20:45:14 UTC');
    expect(formatTime(null)).toBe('');
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('keeps a wide row inside the terminal by wrapping the widest cells, losing nothing', () => {
    const wide = 'x'.repeat(700);
    const io = captureIo(100);
    printRecords(io, 'table', [{ id: 'span-1', body: wide, n: 42 }], [
      { heading: 'id', value: (row) => row.id },
      { heading: 'body', value: (row) => row.body },
      { heading: 'n', value: (row) => row.n, align: 'right' },
    ]);
    const lines = io.text().split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(100);
    expect(io.text().replace(/[^x]/g, '')).toHaveLength(700);
    expect(io.text()).toContain('span-1');
  });

  it('prints one field per line when even narrow columns cannot fit', () => {
    const headings = Array.from({ length: 12 }, (_, index) => `column_${index}`);
    const text = renderTable(headings, [headings.map((heading) => `${heading}-value`)], 60);
    expect(text).toContain('-[ record 1 ]-');
    expect(text).toContain('column_11 | column_11-value');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(60);
  });

  it('--csv quotes what needs quoting; --json prints the records themselves', () => {
    const rows = [{ developer: 'alice, bob', note: 'say "hi"\nthen go' }];
    const columns = [{ heading: 'developer', value: (row: (typeof rows)[number]) => row.developer }, { heading: 'note', value: (row: (typeof rows)[number]) => row.note }];
    const csv = captureIo(80);
    printRecords(csv, 'csv', rows, columns);
    expect(csv.text()).toBe('developer,note\n"alice, bob","say ""hi""\nthen go"');
    const json = captureIo(80);
    printRecords(json, 'json', rows, columns);
    expect(JSON.parse(json.text())).toEqual(rows);
  });
});
