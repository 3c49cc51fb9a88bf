import type { Kysely } from 'kysely';
import type { ChangeRequest, ChangeRequestState } from '../core/change-request-types.ts';
import { json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';

type Executor = Kysely<Database>;

// The aggregate is stored whole in `body`; the columns beside it exist for lookups and ordering.
const toRow = (request: ChangeRequest) => ({
  id: request.id,
  customer_id: request.customerId,
  state: request.state,
  tier: request.tier,
  channel: request.channel,
  version: request.version,
  created_at: request.createdAt,
  updated_at: request.updatedAt,
  expires_at: request.expiresAt,
  body: json(request),
});

export async function insertChangeRequest(db: Executor, request: ChangeRequest): Promise<void> {
  await db.insertInto('change_request').values(toRow(request)).execute();
}

export async function findChangeRequest(db: Executor, id: string): Promise<ChangeRequest | null> {
  const row = await db.selectFrom('change_request').select('body').where('id', '=', id).executeTakeFirst();
  return row ? parsed<ChangeRequest>(row.body) : null;
}

export async function lockChangeRequest(db: Executor, id: string): Promise<ChangeRequest | null> {
  const row = await db
    .selectFrom('change_request')
    .select('body')
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row ? parsed<ChangeRequest>(row.body) : null;
}

/** Saves the request if the stored version is still `expectedVersion`; false means a concurrent writer won. */
export async function updateChangeRequestIfVersion(
  db: Executor,
  request: ChangeRequest,
  expectedVersion: number,
): Promise<boolean> {
  const { id: _id, created_at: _created, customer_id: _customer, ...changes } = toRow(request);
  const result = await db
    .updateTable('change_request')
    .set(changes)
    .where('id', '=', request.id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface ChangeRequestFilter {
  readonly state?: ChangeRequestState | undefined;
  readonly customerId?: string | undefined;
  readonly limit: number;
  /** Keyset cursor: the last id of the previous page. Ids are UUIDv7, so id order is creation order. */
  readonly after?: string | undefined;
}

export async function listChangeRequests(
  db: Executor,
  filter: ChangeRequestFilter,
): Promise<{ requests: ChangeRequest[]; nextCursor: string | null }> {
  let query = db
    .selectFrom('change_request')
    .select(['id', 'body'])
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.after) query = query.where('id', '<', filter.after);
  const rows = await query.execute();
  const page = rows.slice(0, filter.limit);
  return {
    requests: page.map((row) => parsed<ChangeRequest>(row.body)),
    nextCursor: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
  };
}
