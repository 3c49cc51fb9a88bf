import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type AmendDatabase, openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';

export const TEMPLATE_DATABASE = 'amend_test_template';

/** Which engine this test run uses; vitest's projects set it (see vitest.config.ts). */
export const testEngine = (): 'pglite' | 'postgres' =>
  process.env.AMEND_TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';

const withDatabaseName = (url: string, name: string): string => {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
};

/**
 * A fresh, migrated database for one test file: in-memory PGlite, or a PostgreSQL database copied from the
 * template that the global setup migrated once. `close` drops it.
 */
export async function openTestDatabase(): Promise<AmendDatabase & { url: string | null }> {
  if (testEngine() === 'pglite') {
    const database = await openDatabase({ dataDir: 'memory://' });
    await migrate(database);
    return { ...database, url: null };
  }
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `amend_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const url = withDatabaseName(adminUrl, name);
  const database = await openDatabase({ url, poolSize: 12 });
  return {
    ...database,
    url,
    close: async () => {
      await database.close();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}
