import { sql } from 'kysely';

/** `= ANY(…)` over uuids: one parameter for a whole batch, however many (pg wants a mutable array). */
export const anyUuid = (ids: readonly string[]) => sql<string>`ANY(${[...ids]}::uuid[])`;

/** Timestamps come back as Date from both engines; the domain speaks ISO strings. */
export const iso = (value: Date | string): string =>
  value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export const isoOrNull = (value: Date | string | null): string | null => (value === null ? null : iso(value));

/** jsonb parameters are sent as JSON text so node-postgres and PGlite treat them alike. */
export const json = (value: unknown): string => JSON.stringify(value ?? null);

/** jsonb comes back parsed from node-postgres and PGlite alike; tolerate text for safety. */
export const parsed = <T>(value: unknown): T =>
  typeof value === 'string' ? (JSON.parse(value) as T) : (value as T);

const COPY_SPECIAL = /[\\\n\r\t]/g;
// Most values have no character to escape; testing first skips replace's copy of the string.
const HAS_COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** One value as COPY's text format reads it: `\N` for null, objects as JSON (jsonb), special characters escaped. */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return HAS_COPY_SPECIAL.test(text)
    ? text.replace(COPY_SPECIAL, (character) => COPY_ESCAPES[character]!)
    : text;
}

/** Rows in COPY's text format (one line each, values tab-separated in the order of `columns`). */
export function copyText<Row>(columns: readonly (keyof Row & string)[], rows: readonly Row[]): string {
  let text = '';
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) text += (i === 0 ? '' : '\t') + copyValue(row[columns[i]!]);
    text += '\n';
  }
  return text;
}
