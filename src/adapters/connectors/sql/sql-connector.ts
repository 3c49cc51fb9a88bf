import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type {
  ClaimedOutboxMessage,
  ConnectedSystem,
  DeliveryResult,
  ReadBackResult,
} from '../../../app/ports.ts';

export interface SqlSystemConfig {
  readonly id: string;
  /** `postgres://…`, or `pglite://<folder>` / `pglite://memory` for an embedded database (the demo). */
  readonly url: string;
  readonly table: string;
  readonly keyColumn: string;
  /**
   * A column holding the last applied sequence: an older change never overwrites a newer one. An equal
   * sequence is applied: only a re-push of the current values (reconcile, replay) carries one.
   */
  readonly sequenceColumn: string;
  /** Field path (`phone`, `postalAddress.postcode`) → column. Objects and arrays are written as JSON (use jsonb). */
  readonly columns: Readonly<Record<string, string>>;
  /** How long connecting, and each statement (lock waits included), may take before the attempt is retried. */
  readonly timeoutMs: number;
}

interface Executor {
  query(text: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function openExecutor(url: string, timeoutMs: number): Executor {
  if (url.startsWith('pglite://')) {
    const location = url.slice('pglite://'.length);
    const database = PGlite.create(location === 'memory' ? 'memory://' : location);
    return {
      query: async (text, params) =>
        (await (await database).query<Record<string, unknown>>(text, params)).rows,
      close: async () => (await database).close(),
    };
  }
  // Without limits a delivery could wait for ever on a row another client holds locked, or on a server that
  // stopped answering, and outlive its lease: another worker would then deliver the same message beside it.
  // The server cancels a slow statement itself (SQLSTATE 57014, retried); the client's own limit, a second
  // later, covers a server that no longer answers at all.
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    application_name: 'amend-connector',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
  });
  pool.on('error', () => {});
  return { query: async (text, params) => (await pool.query(text, params)).rows, close: () => pool.end() };
}

// Identifiers are checked by the configuration schema ([a-z_][a-z0-9_]*); quoting keeps reserved words safe.
const quote = (identifier: string) =>
  identifier
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');

const valueAt = (fields: Record<string, unknown>, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      fields,
    );

const toColumnValue = (value: unknown): unknown =>
  value !== null && typeof value === 'object' ? JSON.stringify(value) : (value ?? null);

/** Upserts the mapped columns of another PostgreSQL database's table, and reads them back by SELECT. */
export function createSqlConnector(config: SqlSystemConfig): ConnectedSystem & { executor: Executor } {
  const executor = openExecutor(config.url, config.timeoutMs);
  const mapped = Object.entries(config.columns);
  return {
    id: config.id,
    kind: 'sql',
    confirmation: 'read_back',
    executor,
    async deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult> {
      const fields = (message.payload.fields ?? {}) as Record<string, unknown>;
      const held = mapped.filter(([path]) => path.split('.')[0]! in fields);
      const columns = [config.keyColumn, config.sequenceColumn, ...held.map(([, column]) => column)];
      const values = [
        message.customerId,
        message.sequence,
        ...held.map(([path]) => toColumnValue(valueAt(fields, path))),
      ];
      const updates = [config.sequenceColumn, ...held.map(([, column]) => column)].map(
        (column) => `${quote(column)} = EXCLUDED.${quote(column)}`,
      );
      const text = `INSERT INTO ${quote(config.table)} (${columns.map(quote).join(', ')})
        VALUES (${columns.map((_, index) => `$${index + 1}`).join(', ')})
        ON CONFLICT (${quote(config.keyColumn)}) DO UPDATE SET ${updates.join(', ')}
        WHERE ${quote(config.table)}.${quote(config.sequenceColumn)} IS NULL OR ${quote(config.table)}.${quote(config.sequenceColumn)} <= EXCLUDED.${quote(config.sequenceColumn)}`;
      try {
        await executor.query(text, values);
        return { ok: true };
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        // Undefined table or column, wrong type: the mapping is wrong, retrying will not help.
        const isPermanent = code.startsWith('42') || code.startsWith('22');
        return {
          ok: false,
          error: `${config.id}: update failed${code ? ` (SQLSTATE ${code})` : ''}`,
          isPermanent,
        };
      }
    },
    async readBack(customerId: string): Promise<ReadBackResult> {
      try {
        const rows = await executor.query(
          `SELECT ${mapped.map(([, column]) => quote(column)).join(', ')} FROM ${quote(config.table)} WHERE ${quote(config.keyColumn)} = $1`,
          [customerId],
        );
        const row = rows[0];
        if (!row) return { ok: true, values: null };
        return {
          ok: true,
          values: Object.fromEntries(mapped.map(([path, column]) => [path, row[column] ?? null])),
        };
      } catch {
        return { ok: false, error: `${config.id}: read-back failed` };
      }
    },
    close: () => executor.close(),
  };
}
