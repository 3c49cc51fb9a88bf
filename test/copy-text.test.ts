import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmendDatabase } from '../src/store/database.ts';
import { copyText } from '../src/store/row-fns.ts';
import { openTestDatabase } from './support/test-database.ts';

let database: AmendDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
  await sql`CREATE TABLE copied (n int, label text, doc jsonb)`.execute(database.db);
});
afterAll(() => database.close());

describe("rows in COPY's text format", () => {
  it('reach the table exactly as given, whatever characters their values hold', async () => {
    const rows = [
      { n: 1, label: 'plain', doc: { a: 1 } },
      { n: 2, label: 'tab\there, newline\nthere, return\rhere', doc: { text: 'line\nbreak\tand \\ slash' } },
      { n: 3, label: 'back\\slash \\N not a null', doc: null },
      { n: 4, label: null, doc: ['x', { y: 'é ✓' }] },
      { n: 5, label: '', doc: {} },
    ];
    await database.copyInTransaction([
      { table: 'copied', columns: ['n', 'label', 'doc'], text: copyText(['n', 'label', 'doc'], rows) },
    ]);
    const { rows: read } = await sql<{ n: number; label: string | null; doc: unknown }>`
      SELECT n, label, doc FROM copied ORDER BY n`.execute(database.db);
    expect(read).toEqual(rows);
  });

  it('are empty for no rows', () => {
    expect(copyText(['n'], [])).toBe('');
  });
});
