/** Timestamps come back as Date from both engines; the domain speaks ISO strings. */
export const iso = (value: Date | string): string =>
  value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export const isoOrNull = (value: Date | string | null): string | null => (value === null ? null : iso(value));

/** jsonb parameters are sent as JSON text so node-postgres and PGlite treat them alike. */
export const json = (value: unknown): string => JSON.stringify(value ?? null);

/** jsonb comes back parsed from node-postgres and PGlite alike; tolerate text for safety. */
export const parsed = <T>(value: unknown): T =>
  typeof value === 'string' ? (JSON.parse(value) as T) : (value as T);
