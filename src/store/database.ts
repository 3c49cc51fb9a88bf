import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { lockDataFolder } from './data-folder-lock.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { isReshapedResult, PREPARED_STATEMENTS_PER_CONNECTION } from './prepared-statements.ts';
import type { Database } from './schema-types.ts';

export type Engine = 'pglite' | 'postgres';

/** One open database, whichever engine. Everything above this file speaks Kysely and never asks which. */
export interface AmendDatabase {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** Runs a multi-statement SQL script (migrations). */
  runScript(sql: string): Promise<void>;
  /** Loads rows into tables by COPY, all in one transaction: a bulk import's write (see `TableCopy`). */
  copyInTransaction(copies: readonly TableCopy[]): Promise<void>;
  /** Runs `work` while holding the cluster-wide migration lock. */
  withMigrationLock<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Rows for one table in COPY's text format (`copyText`). COPY reads them without a parameter to bind or a JSON
 * document to parse: about half the database's work per imported customer and audit entry.
 */
export interface TableCopy {
  readonly table: string;
  readonly columns: readonly string[];
  readonly text: string;
}

const copyStatement = ({ table, columns }: TableCopy, source: string) =>
  `COPY ${table} (${columns.join(', ')}) FROM ${source}`;

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
  // JIT off: Amend's only queries costly enough to be compiled are the report's and the metrics' aggregates,
  // and compiling them took longer than it saved (the monthly report over a million requests: 0.4 s of
  // compiling a query, ~1 s slower in all). The operator's own PGOPTIONS come after, so theirs win.
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    application_name: 'amend',
    options: `-c jit=off ${process.env.PGOPTIONS ?? ''}`.trim(),
  });
  // A connection's error (the server restarted or cut it) must not crash the process: an idle client is
  // replaced by the pool; a checked-out one also fails its query, which is how the caller learns of it.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareStatementsOnce(client);
  });
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
    copyInTransaction: async (copies) => {
      const client = await pool.connect();
      let failure: unknown;
      try {
        await client.query('BEGIN');
        for (const copy of copies) {
          const loading = client.query(copyFrom(copyStatement(copy, 'STDIN')));
          loading.end(copy.text);
          await finished(loading);
        }
        await client.query('COMMIT');
      } catch (error) {
        failure = error;
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        // A connection that failed mid-COPY may be out of step with the server: drop it rather than reuse it.
        client.release(failure instanceof Error ? failure : undefined);
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

/**
 * Makes a connection parse each parameterised statement once and reuse it by name, as Kysely sends every
 * statement unnamed: parsing, and planning until PostgreSQL settles on a generic plan, took a third to a half
 * of the server's time per change request. Past the cap, statements go unnamed as before. A statement whose
 * result changed shape under it (a migration added a column to a table it selects `*` from) fails once with
 * "cached plan must not change result type"; the connection then prepares afresh under new names.
 */
function prepareStatementsOnce(client: pg.PoolClient): void {
  const send = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  let prepared = 0;
  let generation = 0;
  const names = new Map<string, string>();
  (client as { query: unknown }).query = (text: unknown, values?: unknown, ...rest: unknown[]) => {
    if (typeof text !== 'string' || !Array.isArray(values) || rest.length > 0)
      return send(text, values, ...rest);
    let name = names.get(text);
    if (!name && prepared < PREPARED_STATEMENTS_PER_CONNECTION) {
      prepared += 1;
      name = `amend_${generation}_${createHash('sha1').update(text).digest('base64url')}`;
      names.set(text, name);
    }
    if (!name) return send(text, values);
    return send({ name, text, values }).catch((error: unknown) => {
      if (isReshapedResult(error)) {
        generation += 1;
        names.clear();
      }
      throw error;
    });
  };
}

async function openPGlite(dataDir: string): Promise<AmendDatabase> {
  const isInMemory = dataDir.startsWith('memory://');
  if (!isInMemory) mkdirSync(dataDir, { recursive: true });
  const release = isInMemory
    ? () => {}
    : lockDataFolder(dataDir, ['amend', ...process.argv.slice(2)].join(' '));
  process.once('exit', release);
  try {
    return await openLockedPGlite(dataDir, () => {
      process.off('exit', release);
      release();
    });
  } catch (error) {
    process.off('exit', release);
    release();
    throw error;
  }
}

async function openLockedPGlite(dataDir: string, release: () => void): Promise<AmendDatabase> {
  // Imported here: a process on PostgreSQL never loads the embedded engine.
  const { PGlite } = await import('@electric-sql/pglite');
  // PostgreSQL's default 128 MB of shared buffers is WebAssembly memory here, never given back: 32 MB took an
  // `amend serve` under load from ~550 MB to ~450 MB resident at the same throughput (the files stay in the
  // operating system's cache either way); 16 MB took its WebAssembly memory from 48 MB resident to 31, again at
  // the same throughput (88 and 89 changes/s under 32 clients, interleaved on 2,000 customers).
  const client = await PGlite.create(dataDir, { postgresqlconf: ['shared_buffers=16MB'] });
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
    copyInTransaction: (copies) =>
      db.connection().execute(async () => {
        try {
          await client.exec('BEGIN');
          for (const copy of copies)
            await client.query(copyStatement(copy, `'/dev/blob'`), [], { blob: new Blob([copy.text]) });
          await client.exec('COMMIT');
        } catch (error) {
          await client.exec('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
    // One process owns a PGlite data folder (lockDataFolder), so there is nobody to lock out.
    withMigrationLock: (work) => work(),
    close: async () => {
      await db.destroy();
      release();
    },
  };
}
