import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { FieldCipher, ResealBatch, SealedRecords } from '../app/ports.ts';
import { bodyResealed, CHANGE_REQUEST_PARTS } from './change-request-repo.ts';
import { countCustomersToReseal, resealCustomers } from './customer-repo.ts';
import { parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';
import { openJson, sealJson } from './sealed-json.ts';

type Executor = Kysely<Database>;

/** What a value sealed with the current key starts with (`v1.<key id>.`, `adapters/field-cipher.ts`). */
const currentPrefix = (cipher: FieldCipher) => `v1.${cipher.currentKeyId}.`;

/**
 * Tables with one column sealed whole, bound to `owner`: a jsonb `{ "$sealed": … }` (in clear in rows stored
 * before it was sealed) or a sealed string (TOTP secrets, sealed from the first). The column is never rewritten
 * once the row exists, so a batch writes a row only while it still holds what was read.
 */
const SEALED_WHOLE = {
  outbox: { column: 'payload', owner: 'customer_id', id: 'bigint', isJson: true },
  manual_task: { column: 'field_values', owner: 'customer_id', id: 'uuid', isJson: true },
  staff_user: { column: 'totp_secret', owner: 'id', id: 'uuid', isJson: false },
} as const;
type SealedWhole = keyof typeof SEALED_WHOLE;

function isStaleWhole(records: SealedWhole, cipher: FieldCipher): RawBuilder<boolean> {
  const { column, isJson } = SEALED_WHOLE[records];
  const prefix = currentPrefix(cipher);
  // A jsonb value stored before its column was sealed has no `$sealed` member: ->> answers null.
  return isJson
    ? sql<boolean>`NOT coalesce(starts_with(${sql.ref(column)} ->> '$sealed', ${prefix}), false)`
    : sql<boolean>`${sql.ref(column)} IS NOT NULL AND NOT starts_with(${sql.ref(column)}, ${prefix})`;
}

/**
 * A change request holds a part not sealed with the current key: in clear (stored before the body's parts
 * were sealed) or under an older key. One JSON path over the parts `withCustomersParts` seals; absent and null
 * parts are not sealed and pass.
 */
function isStaleChangeRequest(cipher: FieldCipher): RawBuilder<boolean> {
  const stale = '!(@.type() == "null" || @."$sealed" starts with $prefix)';
  const path = `$ ? (${CHANGE_REQUEST_PARTS.map((part) => `exists(@.${part} ? (${stale}))`).join(' || ')})`;
  return sql<boolean>`jsonb_path_exists(body, ${path}::jsonpath, jsonb_build_object('prefix', ${currentPrefix(cipher)}::text))`;
}

async function resealWhole(
  db: Executor,
  cipher: FieldCipher,
  records: SealedWhole,
  limit: number,
  after: string | null,
): Promise<ResealBatch> {
  const { column, owner, id, isJson } = SEALED_WHOLE[records];
  const { rows } = await sql<{ id: string; owner: string; value: unknown }>`
    SELECT id::text AS id, ${sql.ref(owner)}::text AS owner, ${sql.ref(column)} AS value
    FROM ${sql.table(records)}
    WHERE ${isStaleWhole(records, cipher)} ${after === null ? sql`` : sql`AND id > ${after}::${sql.raw(id)}`}
    ORDER BY id LIMIT ${limit}`.execute(db);
  if (rows.length === 0) return { examined: 0, resealed: 0, last: null };
  const resealed = rows.map((row) => ({
    id: row.id,
    was: row.value,
    value: isJson
      ? sealJson(cipher, openJson(cipher, parsed(row.value), row.owner), row.owner)
      : cipher.seal(cipher.open(row.value as string, row.owner), row.owner),
  }));
  const type = sql.raw(isJson ? 'jsonb' : 'text');
  const result = await sql`
    UPDATE ${sql.table(records)} AS stored SET ${sql.ref(column)} = given.value
    FROM json_to_recordset(${JSON.stringify(resealed)}::json) AS given (id ${sql.raw(id)}, was ${type}, value ${type})
    WHERE stored.id = given.id AND stored.${sql.ref(column)} = given.was`.execute(db);
  return { examined: rows.length, resealed: Number(result.numAffectedRows ?? 0), last: rows.at(-1)!.id };
}

/** Change requests: each rewritten with its parts sealed anew, only if its version is unchanged. */
async function resealChangeRequests(
  db: Executor,
  cipher: FieldCipher,
  limit: number,
  after: string | null,
): Promise<ResealBatch> {
  const { rows } = await sql<{ id: string; version: number; body: unknown }>`
    SELECT id::text AS id, version, body FROM change_request
    WHERE ${isStaleChangeRequest(cipher)} ${after === null ? sql`` : sql`AND id > ${after}::uuid`}
    ORDER BY id LIMIT ${limit}`.execute(db);
  if (rows.length === 0) return { examined: 0, resealed: 0, last: null };
  const resealed = rows.map((row) => ({
    id: row.id,
    version: row.version,
    body: bodyResealed(cipher, row.body),
  }));
  const result = await sql`
    UPDATE change_request AS stored SET body = given.body
    FROM json_to_recordset(${JSON.stringify(resealed)}::json) AS given (id uuid, version int, body jsonb)
    WHERE stored.id = given.id AND stored.version = given.version`.execute(db);
  return { examined: rows.length, resealed: Number(result.numAffectedRows ?? 0), last: rows.at(-1)!.id };
}

export function resealRecords(
  db: Executor,
  cipher: FieldCipher,
  records: SealedRecords,
  limit: number,
  after: string | null,
): Promise<ResealBatch> {
  if (records === 'customer') return resealCustomers(db, cipher, limit, after);
  if (records === 'change_request') return resealChangeRequests(db, cipher, limit, after);
  return resealWhole(db, cipher, records, limit, after);
}

export async function countRecordsToReseal(
  db: Executor,
  cipher: FieldCipher,
  records: SealedRecords,
): Promise<number> {
  if (records === 'customer') return countCustomersToReseal(db, cipher);
  const stale = records === 'change_request' ? isStaleChangeRequest(cipher) : isStaleWhole(records, cipher);
  const { rows } = await sql<{ count: number }>`
    SELECT count(*)::int AS count FROM ${sql.table(records)} WHERE ${stale}`.execute(db);
  return rows[0]?.count ?? 0;
}
