import { type Kysely, sql } from 'kysely';
import type { FieldCipher, Store, StoredResponse } from '../app/ports.ts';
import { json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';
import { openJson, sealJson } from './sealed-json.ts';

/**
 * Stores the response under its key at the end of the request's transaction. Storing last, not claiming first,
 * saves the common request a round trip: a duplicate still does one request's work at most, because the two
 * serialise on the customer's row and on this key's primary key, and the one that finds the key taken rolls
 * its own work back and answers the stored response. The response shows the request's values: stored sealed
 * to its key.
 */
export async function storeIdempotentResponse(
  db: Kysely<Database>,
  cipher: FieldCipher,
  response: Parameters<Store['storeIdempotentResponse']>[0],
): Promise<StoredResponse | null> {
  const inserted = await db
    .insertInto('idempotency_key')
    .values({
      principal: response.principal,
      key: response.key,
      request_hash: response.requestHash,
      response_status: response.status,
      response_body: json(sealJson(cipher, response.body, ownerOf(response.principal, response.key))),
      created_at: response.now,
    })
    .onConflict((conflict) => conflict.columns(['principal', 'key']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return null;
  return findIdempotentResponse(db, cipher, response.principal, response.key);
}

const ownerOf = (principal: string, key: string) => `idempotency:${principal}:${key}`;

export async function findIdempotentResponse(
  db: Kysely<Database>,
  cipher: FieldCipher,
  principal: string,
  key: string,
): Promise<StoredResponse | null> {
  const row = await db
    .selectFrom('idempotency_key')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('principal', '=', principal)
    .where('key', '=', key)
    .executeTakeFirst();
  return row
    ? {
        requestHash: row.request_hash,
        status: row.response_status,
        body: openJson(cipher, parsed(row.response_body), ownerOf(principal, key)),
      }
    : null;
}

/** Deletes up to `limit` stored responses made before `before`, oldest first; answers how many. */
export async function pruneIdempotentResponses(
  db: Kysely<Database>,
  before: string,
  limit: number,
): Promise<number> {
  const { rows } = await sql<{ pruned: number }>`
    WITH pruned AS (
      DELETE FROM idempotency_key WHERE (principal, key) IN (
        SELECT principal, key FROM idempotency_key WHERE created_at < ${before}::timestamptz
        ORDER BY created_at LIMIT ${limit})
      RETURNING 1)
    SELECT count(*)::int AS pruned FROM pruned`.execute(db);
  return rows[0]?.pruned ?? 0;
}
