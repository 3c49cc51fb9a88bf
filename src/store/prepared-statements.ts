/**
 * What both engines' statement preparation shares (`prepareStatementsOnce` in database.ts for PostgreSQL's pool,
 * `PGliteConnection` for the embedded engine).
 */

/** Statements prepared per connection, at most: each holds memory in its backend (or PGlite's heap). */
export const PREPARED_STATEMENTS_PER_CONNECTION = 256;

/**
 * PostgreSQL's refusal of a prepared statement whose result changed shape under it (a migration added a column
 * to a table it selects `*` from): the connection must prepare afresh under new names.
 */
export const isReshapedResult = (error: unknown): boolean =>
  error instanceof Error && 'code' in error && error.code === '0A000' && /result type/.test(error.message);
