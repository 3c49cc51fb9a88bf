import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepTablesTidy, tablesDueForUpkeep } from '../src/store/upkeep.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

const quiet = { estimatedRows: 1000, deadRows: 0, insertedSinceVacuum: 0, changedSinceAnalyze: 0 };

describe('which tables are due for upkeep (autovacuum thresholds)', () => {
  it('vacuums past 50 + 20% dead rows or 1,000 + 20% inserts, analyses past 50 + 10% changes', () => {
    expect(
      tablesDueForUpkeep([
        { table: 'quiet', ...quiet, deadRows: 250, insertedSinceVacuum: 1200, changedSinceAnalyze: 150 },
        { table: 'dead', ...quiet, deadRows: 251 },
        { table: 'grown', ...quiet, insertedSinceVacuum: 1201 },
        { table: 'changed', ...quiet, changedSinceAnalyze: 151 },
        // Never analysed: the planner's count is -1, so any handful of rows is due.
        { table: 'new', ...quiet, estimatedRows: -1, changedSinceAnalyze: 51 },
      ]),
    ).toEqual([
      { table: 'dead', vacuum: true, analyze: false },
      { table: 'grown', vacuum: true, analyze: false },
      { table: 'changed', vacuum: false, analyze: true },
      { table: 'new', vacuum: false, analyze: true },
    ]);
  });
});

describe('keeping the tables tidy where no autovacuum does', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(() => app.close());

  const customerStatistics = async () =>
    (
      await sql<{ analysed: boolean; rows: number }>`
        SELECT s.last_analyze IS NOT NULL AS analysed, c.reltuples::float8 AS rows
        FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
        WHERE s.relname = 'customer' AND s.schemaname = current_schema()`.execute(app.database.db)
    ).rows[0];

  it('analyses and vacuums the tables that changed, and leaves them alone once tidy', async () => {
    if (app.database.engine === 'postgres') {
      const { rows } = await sql<{ on: boolean }>`SELECT current_setting('autovacuum') = 'on' AS on`.execute(
        app.database.db,
      );
      // Autovacuum looks after this server: upkeep must stand back.
      if (rows[0]?.on) return expect((await keepTablesTidy(app.database)).isNeeded).toBe(false);
    }
    await keepTablesTidy(app.database);
    for (let i = 0; i < 80; i += 1) await app.addCustomer();
    // After a bulk load only the statistics are refreshed at once; the worker's round vacuums later.
    await sql`CREATE TABLE upkeep_scratch AS SELECT n FROM generate_series(1, 2000) AS n`.execute(
      app.database.db,
    );
    await sql`DELETE FROM upkeep_scratch WHERE n > 10`.execute(app.database.db);
    const analysed = await keepTablesTidy(app.database, { isAnalyseOnly: true });
    expect(analysed.tables).toContainEqual({ table: 'customer', vacuum: false, analyze: true });
    expect(analysed.tables).toContainEqual({ table: 'upkeep_scratch', vacuum: false, analyze: true });
    for (let i = 0; i < 80; i += 1) await app.addCustomer();
    const count = Number(
      (await sql<{ n: number }>`SELECT count(*)::int AS n FROM customer`.execute(app.database.db)).rows[0]?.n,
    );

    const report = await keepTablesTidy(app.database);
    expect(report.isNeeded).toBe(true);
    expect(report.tables).toContainEqual(expect.objectContaining({ table: 'customer', analyze: true }));
    // The planner now knows how many customers there are.
    expect(await customerStatistics()).toEqual({ analysed: true, rows: count });
    // The dead rows the analysis left are vacuumed by the full round.
    expect(report.tables).toContainEqual({ table: 'upkeep_scratch', vacuum: true, analyze: false });
    expect((await keepTablesTidy(app.database)).tables.map((t) => t.table)).not.toContain('customer');
  });
});
