import { num } from './api.ts';

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });
const usdSmall = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function money(value: unknown): string {
  const amount = num(value);
  return amount !== 0 && Math.abs(amount) < 0.01 ? usdSmall.format(amount) : usd.format(amount);
}

export function count(value: unknown): string {
  return integer.format(num(value));
}

export function percent(value: unknown, digits = 1): string {
  return `${(num(value) * 100).toFixed(digits)}%`;
}

export function dateTime(value: unknown): string {
  const text = String(value ?? '');
  return text.replace('T', ' ').replace(/\.\d+Z?$/, '').replace(/Z$/, '');
}

/** Seconds since the epoch of a `YYYY-MM-DD` (UTC) day, uPlot's x unit. */
export function daySeconds(day: unknown): number {
  return Date.parse(`${String(day).slice(0, 10)}T00:00:00Z`) / 1000;
}

/** Days in the window ending today (UTC), oldest first, as `YYYY-MM-DD`. */
export function dayRange(days: number): string[] {
  const result: string[] = [];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (let offset = days - 1; offset >= 0; offset -= 1) result.push(new Date(today - offset * 86_400_000).toISOString().slice(0, 10));
  return result;
}

/** Share of a budget used → the stage name the gateway would apply (default stages 80/95/110%). */
export function stageOf(share: number): 'ok' | 'alert' | 'downgrade' | 'pause' {
  if (share >= 1.1) return 'pause';
  if (share >= 0.95) return 'downgrade';
  if (share >= 0.8) return 'alert';
  return 'ok';
}
