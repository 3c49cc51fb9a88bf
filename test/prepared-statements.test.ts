import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmendDatabase } from '../src/store/database.ts';
import { openTestDatabase } from './support/test-database.ts';

// Both engines: each PostgreSQL pool connection prepares its own statements; PGlite is one connection that
// prepares them once for the process.
describe('statements prepared once per connection', () => {
  let database: AmendDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
    await sql`CREATE TABLE scratch (id int PRIMARY KEY, label text)`.execute(database.db);
    await sql`INSERT INTO scratch VALUES (1, 'one'), (2, 'two')`.execute(database.db);
  });
  afterAll(() => database.close());

  it('parses a parameterised statement once and reuses it by name on that connection', async () => {
    await database.db.connection().execute(async (connection) => {
      for (const id of [1, 2, 1]) await sql`SELECT label FROM scratch WHERE id = ${id}`.execute(connection);
      const { rows } = await sql<{ name: string }>`
        SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT label FROM scratch%'`.execute(
        connection,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.name).toMatch(/^amend_0_/);
    });
  });

  it('prepares afresh once a migration changed the shape of what a statement returns', async () => {
    await database.db.connection().execute(async (connection) => {
      const select = () =>
        sql<Record<string, unknown>>`SELECT * FROM scratch WHERE id = ${1}`.execute(connection);
      expect((await select()).rows).toEqual([{ id: 1, label: 'one' }]);
      await sql`ALTER TABLE scratch ADD COLUMN note text`.execute(connection);
      // PostgreSQL refuses the statement prepared for the old shape once, then the connection moves on.
      await expect(select()).rejects.toThrow(/cached plan must not change result type/);
      expect((await select()).rows).toEqual([{ id: 1, label: 'one', note: null }]);
      const { rows: names } = await sql<{ name: string }>`
        SELECT name FROM pg_prepared_statements WHERE name LIKE 'amend_%'`.execute(connection);
      expect(names.some(({ name }) => name.startsWith('amend_1_'))).toBe(true);
      // PGlite lives as long as the process, so it closes the old generation's statements; a PostgreSQL
      // connection keeps them, but counts them against its cap of prepared statements.
      if (database.engine === 'pglite')
        expect(names.filter(({ name }) => name.startsWith('amend_0_'))).toEqual([]);
    });
  });

  it('moves on the same way when the refused statement aborted a transaction', async () => {
    await database.db.connection().execute(async (connection) => {
      const select = () =>
        sql<Record<string, unknown>>`SELECT * FROM scratch WHERE id = ${2}`.execute(connection);
      expect((await select()).rows).toHaveLength(1);
      await sql`BEGIN`.execute(connection);
      await sql`ALTER TABLE scratch ADD COLUMN extra int`.execute(connection);
      // The caller sees PostgreSQL's refusal, not a failure of the clean-up that follows it.
      await expect(select()).rejects.toThrow(/cached plan must not change result type/);
      await sql`ROLLBACK`.execute(connection);
      expect((await select()).rows).toEqual([{ id: 2, label: 'two', note: null }]);
      const { rows: names } = await sql<{ name: string }>`
        SELECT name FROM pg_prepared_statements WHERE name LIKE 'amend_%'`.execute(connection);
      if (database.engine === 'pglite')
        expect(new Set(names.map(({ name }) => name.split('_')[1]))).toEqual(new Set(['2']));
    });
  });

  it('binds and reads back each kind of value the store passes', async () => {
    const values = [
      new Date('2026-12-01T08:00:00.000Z'),
      ['a', 'b, c', 'd"e'],
      { nested: { list: [1, 2] }, text: "it's" },
      true,
      null,
      42,
    ] as const;
    const prepared = await sql<Record<string, unknown>>`
      SELECT ${values[0]}::timestamptz AS at, ${values[1]}::text[] AS list, ${JSON.stringify(values[2])}::jsonb AS doc,
        ${values[3]}::boolean AS flag, ${values[4]}::text AS nothing, ${values[5]}::int AS count`.execute(
      database.db,
    );
    expect(prepared.rows).toEqual([
      { at: values[0], list: values[1], doc: values[2], flag: true, nothing: null, count: 42 },
    ]);
    const updated = await sql`UPDATE scratch SET label = ${'uno'} WHERE id = ${1}`.execute(database.db);
    expect(updated.numAffectedRows).toBe(1n);
  });
});

// Kysely hands the settings to the dialect; PGlite's had dropped them, so a read-only snapshot took writes there.
describe("a transaction's settings", () => {
  let database: AmendDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
    await sql`CREATE TABLE ledger (id int PRIMARY KEY)`.execute(database.db);
  });
  afterAll(() => database.close());

  it('runs at the isolation level asked for', async () => {
    const isolation = await database.db
      .transaction()
      .setIsolationLevel('serializable')
      .execute((trx) => sql<{ transaction_isolation: string }>`SHOW transaction_isolation`.execute(trx));
    expect(isolation.rows).toEqual([{ transaction_isolation: 'serializable' }]);
  });

  it('refuses a write in a read-only transaction, and keeps nothing of it', async () => {
    const write = database.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute((trx) => sql`INSERT INTO ledger VALUES (${1})`.execute(trx));
    await expect(write).rejects.toThrow(/read-only transaction/);
    expect((await sql`SELECT id FROM ledger`.execute(database.db)).rows).toEqual([]);
  });
});
