import { type PGlite, parse, protocol, type Results } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { isReshapedResult, PREPARED_STATEMENTS_PER_CONNECTION } from './prepared-statements.ts';

/**
 * Kysely over PGlite. PGlite is one connection, so the driver hands it to one caller at a time: a transaction
 * holds it from BEGIN to COMMIT and nobody else's statement can land inside it.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly client: PGlite) {}
  createAdapter = () => new PostgresAdapter();
  createDriver = (): Driver => new PGliteDriver(this.client);
  createIntrospector = (db: Kysely<unknown>) => new PostgresIntrospector(db);
  createQueryCompiler = () => new PostgresQueryCompiler();
}

class PGliteDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  private readonly connection: PGliteConnection;

  constructor(private readonly client: PGlite) {
    this.connection = new PGliteConnection(client);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.queue;
    this.queue = previous.then(() => held);
    await previous;
    // PGlite runs a statement synchronously inside a promise, so queued work handed the connection on from
    // promise to promise never let the event loop read a socket: under 32 clients, new connections were accepted
    // one per 100-300 ms and their first requests waited up to 3.6 s. Each hand-over now waits for the loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.connection.release = release;
    return this.connection;
  }

  // Transactions run one at a time here, but a read-only snapshot must still refuse a write, as on PostgreSQL.
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const { isolationLevel, accessMode } = settings;
    await connection.executeQuery(
      CompiledQuery.raw(
        isolationLevel || accessMode
          ? ['start transaction', isolationLevel && `isolation level ${isolationLevel}`, accessMode]
              .filter(Boolean)
              .join(' ')
          : 'begin',
      ),
    );
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).release();
  }

  async destroy(): Promise<void> {
    await this.queue;
    if (!this.client.closed) await this.client.close();
  }
}

interface PreparedStatement {
  readonly name: string;
  /** The parameters' type OIDs, which choose each value's serializer. */
  readonly parameterTypes: readonly number[];
}

const { serialize } = protocol;

/**
 * PGlite's `query` parses and plans every statement afresh and crosses into WebAssembly six times to do it
 * (parse, describe, bind, describe, execute, sync). Kysely sends a few dozen distinct statements, so each is
 * prepared once under a name and then runs as one message: bind, describe, execute and sync together. A
 * statement whose result changed shape under it (a migration added a column to a table it selects `*` from)
 * fails once with "cached plan must not change result type"; the connection then closes its statements and
 * prepares afresh under new names, as the PostgreSQL pool does (see `prepareStatementsOnce`).
 */
class PGliteConnection implements DatabaseConnection {
  release: () => void = () => {};
  private readonly statements = new Map<string, PreparedStatement>();
  private generation = 0;

  constructor(private readonly client: PGlite) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const statement = await this.statementFor(compiledQuery.sql);
    const result = statement
      ? await this.run<R>(statement, compiledQuery.parameters)
      : await this.client.query<R>(compiledQuery.sql, [...compiledQuery.parameters]);
    return {
      rows: result.rows,
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    };
  }

  private async statementFor(text: string): Promise<PreparedStatement | null> {
    const known = this.statements.get(text);
    if (known || this.statements.size >= PREPARED_STATEMENTS_PER_CONNECTION) return known ?? null;
    const name = `amend_${this.generation}_${this.statements.size}`;
    const { messages } = await this.client.execProtocol(
      concat(serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()),
      { syncToFs: false },
    );
    const statement = { name, parameterTypes: parse.parseDescribeStatementResults(messages) };
    this.statements.set(text, statement);
    return statement;
  }

  private async run<R>(statement: PreparedStatement, parameters: readonly unknown[]) {
    // As PGlite's own `query` turns a value into text: by its parameter's type, else its string.
    const values = parameters.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.client.serializers[statement.parameterTypes[i] ?? 0];
      return serializer ? (serializer(value) as string) : String(value);
    });
    try {
      const { messages } = await this.client.execProtocol(
        concat(
          serialize.bind({ statement: statement.name, values }),
          serialize.describe({ type: 'P' }),
          serialize.execute({}),
          serialize.sync(),
        ),
      );
      const [result] = parse.parseResults(messages, this.client.parsers);
      return result as unknown as Results<R>;
    } catch (error) {
      if (isReshapedResult(error)) await this.forgetStatements();
      throw error;
    }
  }

  /**
   * Closes every statement and prepares afresh under new names. Close is a protocol message, so unlike
   * DEALLOCATE it is accepted inside the transaction the refused statement aborted; without it each
   * generation's statements would stay in PGlite's heap for the life of the process.
   */
  private async forgetStatements(): Promise<void> {
    const closes = [...this.statements.values()].map(({ name }) => serialize.close({ type: 'S', name }));
    this.generation += 1;
    this.statements.clear();
    await this.client.execProtocol(concat(...closes, serialize.sync()), { syncToFs: false });
  }

  // biome-ignore lint/correctness/useYield: PGlite has no cursors over its single connection.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming queries are not supported on PGlite; page with keyset queries instead.');
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}
