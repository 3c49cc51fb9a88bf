import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.ts';
import type { Database } from './schema-types.ts';

export type Engine = 'pglite' | 'postgres';

/** One open database, whichever engine. Everything above this file speaks Kysely and never asks which. */
export interface AmendDatabase {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** Runs a multi-statement SQL script (migrations). */
  runScript(sql: string): Promise<void>;
  /** Runs `work` while holding the cluster-wide migration lock. */
  withMigrationLock<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgres://…` for real PostgreSQL; absent for the embedded engine. */
  readonly url?: string | undefined;
  /** PGlite's data folder; `memory://` keeps it in memory (tests). */
  readonly dataDir?: string | undefined;
  readonly poolSize?: number | undefined;
}

// A fixed key for pg_advisory_lock: "amend" in ASCII.
const MIGRATION_LOCK_KEY = 0x616d656e64;

// node-postgres returns int8 and numeric as strings; counts and sums in Amend fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export async function openDatabase(options: DatabaseOptions): Promise<AmendDatabase> {
  if (options.url) return openPostgres(options.url, options.poolSize ?? 20);
  return openPGlite(options.dataDir ?? './data');
}

async function openPostgres(url: string, poolSize: number): Promise<AmendDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'amend' });
  // A connection's error (the server restarted or cut it) must not crash the process: an idle client is
  // replaced by the pool; a checked-out one also fails its query, which is how the caller learns of it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    engine: 'postgres',
    runScript: async (sql) => {
      const client = await pool.connect();
      try {
        await client.query(sql);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    // The lock lives on a connection of its own, so the migration itself can use the pool, whatever its size.
    withMigrationLock: async (work) => {
      const client = new pg.Client({ connectionString: url, application_name: 'amend-migrate' });
      await client.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        return await work();
      } finally {
        await client.end().catch(() => {});
      }
    },
    close: () => db.destroy(),
  };
}

async function openPGlite(dataDir: string): Promise<AmendDatabase> {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  // Imported here: a process on PostgreSQL never loads the embedded engine.
  const { PGlite } = await import('@electric-sql/pglite');
  // PostgreSQL's default 128 MB of shared buffers is WebAssembly memory here, never given back: 32 MB took an
  // `amend serve` under load from ~550 MB to ~450 MB resident at the same throughput (the files stay in the
  // operating system's cache either way).
  const client = await PGlite.create(dataDir, { postgresqlconf: ['shared_buffers=32MB'] });
  await client.query(`SET TIME ZONE 'UTC'`);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  return {
    db,
    engine: 'pglite',
    // Through Kysely's connection so the script cannot interleave with another caller's transaction.
    runScript: (sql) =>
      db.connection().execute(async () => {
        try {
          await client.exec(sql);
        } catch (error) {
          await client.exec('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
    // One process owns a PGlite data folder, so there is nobody to lock out.
    withMigrationLock: (work) => work(),
    close: () => db.destroy(),
  };
}
