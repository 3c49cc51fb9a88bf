import { type Kysely, sql } from 'kysely';
import type { AmendDatabase } from './database.ts';
import type { Database } from './schema-types.ts';

/** What the database's statistics say about one table since it was last vacuumed and analysed. */
// A fixed key for pg_try_advisory_lock: "tidy" in ASCII.
const UPKEEP_LOCK_KEY = 0x74696479;

export interface TableActivity {
  readonly table: string;
  /** The planner's row count (`pg_class.reltuples`); -1 before the table was ever analysed. */
  readonly estimatedRows: number;
  readonly deadRows: number;
  readonly insertedSinceVacuum: number;
  readonly changedSinceAnalyze: number;
}

export interface TableUpkeep {
  readonly table: string;
  readonly vacuum: boolean;
  readonly analyze: boolean;
}

export interface UpkeepReport {
  /** False when autovacuum looks after the tables (PostgreSQL's default), so upkeep left them alone. */
  readonly isNeeded: boolean;
  readonly tables: readonly TableUpkeep[];
}

/**
 * The tables past PostgreSQL's own autovacuum thresholds (its defaults): vacuum once dead rows pass 50 + 20% of
 * the table, or inserts 1,000 + 20% (so the visibility map that index-only scans need stays set); analyse once
 * changes pass 50 + 10%. Pure.
 *
 * @example tablesDueForUpkeep([{ table: 'outbox', estimatedRows: 100, deadRows: 90, insertedSinceVacuum: 0, changedSinceAnalyze: 0 }])
 *   // [{ table: 'outbox', vacuum: true, analyze: false }]
 */
export function tablesDueForUpkeep(tables: readonly TableActivity[]): TableUpkeep[] {
  return tables.flatMap((activity) => {
    const rows = Math.max(0, activity.estimatedRows);
    const vacuum = activity.deadRows > 50 + 0.2 * rows || activity.insertedSinceVacuum > 1000 + 0.2 * rows;
    const analyze = activity.changedSinceAnalyze > 50 + 0.1 * rows;
    return vacuum || analyze ? [{ table: activity.table, vacuum, analyze }] : [];
  });
}

/**
 * Does autovacuum's work where nothing else does: PGlite runs PostgreSQL in single-user mode, which has no
 * autovacuum, and a PostgreSQL server may have it switched off. Without it the planner never learns the tables'
 * sizes, dead row versions pile up in the indexes, and statements that took 0.05 ms took 3–5 ms within
 * 60,000 audit entries. Vacuums and analyses, one table at a time, the tables past autovacuum's thresholds.
 */
export async function keepTablesTidy(
  database: AmendDatabase,
  /**
   * After a bulk load, what the planner needs at once is the tables' new sizes (as after pg_restore): analysing
   * samples, where vacuuming a million fresh rows reads them all; the worker's round vacuums later.
   */
  options: { readonly isAnalyseOnly?: boolean } = {},
): Promise<UpkeepReport> {
  // PGlite's one connection is taken statement by statement, so requests go on between one table and the next.
  if (database.engine === 'pglite') return tidy(database.db, options);
  // On PostgreSQL, one connection throughout: the lock is held by a session (VACUUM cannot run in a transaction).
  return database.db.connection().execute(async (db) => {
    const { rows } = await sql<{ on: boolean; free: boolean }>`
      SELECT current_setting('autovacuum') = 'on' AS on, pg_try_advisory_lock(${UPKEEP_LOCK_KEY}) AS free`.execute(
      db,
    );
    if (rows[0]?.on) return { isNeeded: false, tables: [] };
    // Another worker is at it: vacuuming the same table twice at once only queues one behind the other.
    if (!rows[0]?.free) return { isNeeded: true, tables: [] };
    try {
      return await tidy(db, options);
    } finally {
      await sql`SELECT pg_advisory_unlock(${UPKEEP_LOCK_KEY})`.execute(db);
    }
  });
}

async function tidy(
  db: Kysely<Database>,
  options: { readonly isAnalyseOnly?: boolean },
): Promise<UpkeepReport> {
  // A backend hands its counters over when it is idle; PGlite's single backend may not have yet.
  await sql`SELECT pg_stat_force_next_flush()`.execute(db);
  const { rows } = await sql<TableActivity>`
    SELECT s.relname AS "table", c.reltuples::float8 AS "estimatedRows", s.n_dead_tup::float8 AS "deadRows",
      s.n_ins_since_vacuum::float8 AS "insertedSinceVacuum", s.n_mod_since_analyze::float8 AS "changedSinceAnalyze"
    FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
    ORDER BY s.relname`.execute(db);
  const due = tablesDueForUpkeep(rows).flatMap((upkeep) =>
    !options.isAnalyseOnly ? [upkeep] : upkeep.analyze ? [{ ...upkeep, vacuum: false }] : [],
  );
  for (const { table, vacuum } of due)
    await (vacuum ? sql`VACUUM (ANALYZE) ${sql.table(table)}` : sql`ANALYZE ${sql.table(table)}`).execute(db);
  return { isNeeded: true, tables: due };
}
