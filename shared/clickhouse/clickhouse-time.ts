/**
 * `YYYY-MM-DD HH:MM:SS.mmm` in UTC: what a `DateTime64(3, 'UTC')` column returns from `toString(ts)`.
 * Rows that are hashed (audit chain) store exactly this text, so the hash can be recomputed from
 * what ClickHouse gives back.
 */
export function toClickHouseTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** The inverse of {@link toClickHouseTime}: an ISO 8601 UTC string (`…Z`). */
export function clickHouseTimeToIso(text: string): string {
  return text.includes('T') ? (text.endsWith('Z') ? text : `${text}Z`) : `${text.replace(' ', 'T')}Z`;
}
