import type { Kysely } from 'kysely';
import type { Store, StoredResponse } from '../app/ports.ts';
import { json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';

/**
 * Stores the response under its key at the end of the request's transaction. Storing last, not claiming first,
 * saves the common request a round trip: a duplicate still does one request's work at most, because the two
 * serialise on the customer's row and on this key's primary key, and the one that finds the key taken rolls
 * its own work back and answers the stored response.
 */
export async function storeIdempotentResponse(
  db: Kysely<Database>,
  response: Parameters<Store['storeIdempotentResponse']>[0],
): Promise<StoredResponse | null> {
  const inserted = await db
    .insertInto('idempotency_key')
    .values({
      principal: response.principal,
      key: response.key,
      request_hash: response.requestHash,
      response_status: response.status,
      response_body: json(response.body),
      created_at: response.now,
    })
    .onConflict((conflict) => conflict.columns(['principal', 'key']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return null;
  return findIdempotentResponse(db, response.principal, response.key);
}

export async function findIdempotentResponse(
  db: Kysely<Database>,
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
    ? { requestHash: row.request_hash, status: row.response_status, body: parsed(row.response_body) }
    : null;
}
