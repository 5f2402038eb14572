import Table from 'cli-table3';
import { CliError, tableStyle, type CliIo } from './cli-io.ts';

/** How a listing command prints: a table for people, JSON or CSV for scripts (`--json`, `--csv`). */
export type OutputFormat = 'table' | 'json' | 'csv';

export function outputFormat(options: { json?: boolean | undefined; csv?: boolean | undefined }): OutputFormat {
  if (options.json && options.csv) throw new CliError('choose one of --json and --csv');
  return options.json ? 'json' : options.csv ? 'csv' : 'table';
}

/**
 * Every time the CLI prints, in one format with its zone: `2026-12-06 20:45:14 UTC`.
 * Stored times come back from ClickHouse without a zone (`2026-12-06 20:45:14.123`, written in UTC) and
 * from a process that created the row as ISO with `Z`; both are the same instant and print the same.
 */
export function formatTime(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  const date = value instanceof Date ? value : typeof value === 'number' ? new Date(value) : parseStoredTime(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function parseStoredTime(text: string): Date {
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(text.trim());
  return new Date(hasZone ? text : `${text.trim().replace(' ', 'T')}Z`);
}

/** A column of a listing: heading, how to read it from a record, right-aligned for numbers. */
export interface Column<T> {
  heading: string;
  value: (record: T) => unknown;
  align?: 'left' | 'right';
}

/** Prints records as a table that fits the terminal, or as JSON (the records themselves) or CSV. */
export function printRecords<T>(io: CliIo, format: OutputFormat, records: T[], columns: Column<T>[]): void {
  if (format === 'json') {
    io.out(JSON.stringify(records, null, 2));
    return;
  }
  const cells = records.map((record) => columns.map((column) => cellText(column.value(record))));
  if (format === 'csv') {
    io.out([columns.map((column) => csvField(column.heading)), ...cells.map((row) => row.map(csvField))].map((row) => row.join(',')).join('\n'));
    return;
  }
  io.out(renderTable(columns.map((column) => column.heading), cells, terminalWidth(io), columns.map((column) => column.align ?? 'left')));
}

export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** RFC 4180: quote a field holding a comma, quote or line break; double the quotes inside. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The width a table must fit: the terminal's, else `COLUMNS`. Piped output (a file, `grep`, a CI log)
 * has no width limit, so a line stays one line for the tools reading it.
 */
export function terminalWidth(io: CliIo): number {
  const width = io.columns ?? (Number(process.env.COLUMNS) || Number.POSITIVE_INFINITY);
  return Math.max(40, width);
}

const MIN_COLUMN = 8;

/**
 * A bordered table no wider than `width`: the widest columns give up space first and their cells wrap.
 * When even the narrowest columns cannot fit, each record prints as `heading: value` lines instead
 * (psql's expanded display), so nothing is cut.
 */
export function renderTable(headings: string[], rows: string[][], width: number, align: ('left' | 'right')[] = []): string {
  // cli-table3 pads each cell with one space either side and draws a border before each column and after the last.
  const overhead = headings.length * 3 + 1;
  const natural = headings.map((heading, index) => Math.max(displayWidth(heading), ...rows.map((row) => longestLine(row[index] ?? ''))));
  const available = width - overhead;
  if (headings.length * MIN_COLUMN > available) return renderExpanded(headings, rows);
  const widths = fitWidths(natural, available);
  const table = new Table({
    head: headings,
    colWidths: widths.map((inner) => inner + 2),
    colAligns: headings.map((_, index) => align[index] ?? 'left'),
    wordWrap: true,
    wrapOnWordBoundary: false,
    style: tableStyle(),
  });
  for (const row of rows) table.push(row);
  return table.toString();
}

/** Shrinks the widest column one character at a time until the sum fits (fair to narrow columns). */
function fitWidths(natural: number[], available: number): number[] {
  const widths = [...natural];
  let total = widths.reduce((sum, width) => sum + width, 0);
  while (total > available) {
    let widest = 0;
    for (let index = 1; index < widths.length; index++) if (widths[index]! > widths[widest]!) widest = index;
    if (widths[widest]! <= MIN_COLUMN) break;
    widths[widest]! -= 1;
    total -= 1;
  }
  return widths;
}

function renderExpanded(headings: string[], rows: string[][]): string {
  const label = Math.max(...headings.map(displayWidth));
  return rows
    .map((row, index) => [`-[ record ${index + 1} ]-`, ...headings.map((heading, column) => `${heading.padEnd(label)} | ${row[column] ?? ''}`)].join('\n'))
    .join('\n');
}

function longestLine(text: string): number {
  return Math.max(0, ...text.split('\n').map(displayWidth));
}

function displayWidth(text: string): number {
  return [...text].length;
}
