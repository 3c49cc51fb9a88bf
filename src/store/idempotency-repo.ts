import type { Kysely } from 'kysely';
import { json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';

export interface StoredResponse {
  readonly requestHash: string;
  readonly status: number;
  readonly body: unknown;
}

/**
 * Claims an idempotency key inside the caller's transaction. A concurrent claim of the same key waits on
 * the primary key until this transaction ends, then sees the stored response: one request does the work.
 * Answers the earlier response if the key was already used, or null if this caller now owns it.
 */
export async function claimIdempotencyKey(
  db: Kysely<Database>,
  claim: { principal: string; key: string; requestHash: string; now: string },
): Promise<StoredResponse | null> {
  const inserted = await db
    .insertInto('idempotency_key')
    .values({
      principal: claim.principal,
      key: claim.key,
      request_hash: claim.requestHash,
      response_status: 0,
      response_body: json(null),
      created_at: claim.now,
    })
    .onConflict((conflict) => conflict.columns(['principal', 'key']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return null;
  const row = await db
    .selectFrom('idempotency_key')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('principal', '=', claim.principal)
    .where('key', '=', claim.key)
    .executeTakeFirstOrThrow();
  return { requestHash: row.request_hash, status: row.response_status, body: parsed(row.response_body) };
}

export async function recordIdempotentResponse(
  db: Kysely<Database>,
  response: { principal: string; key: string; status: number; body: unknown },
): Promise<void> {
  await db
    .updateTable('idempotency_key')
    .set({ response_status: response.status, response_body: json(response.body) })
    .where('principal', '=', response.principal)
    .where('key', '=', response.key)
    .execute();
}
