import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { ChangeRequestWrite, ChangeRequestWritten, FieldCipher, Page } from '../app/ports.ts';
import type { Sha256Hex } from '../core/audit-types.ts';
import type { ChangeRequest, ChangeRequestState } from '../core/change-request-types.ts';
import { PENDING_STATES } from '../core/change-request-types.ts';
import { appendAuditEntries, appendWithin, type HeldChainHeads } from './audit-repo.ts';
import { customerUpdateIfVersion } from './customer-repo.ts';
import { outboxInsert } from './outbox-repo.ts';
import { pageOf } from './page-fns.ts';
import { anyUuid, json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';
import { openJson, sealJson } from './sealed-json.ts';

type Executor = Kysely<Database>;

/**
 * The request with `each` applied to what it carries of the customer's: the fields' values on file, as given
 * and as proposed; verification evidence; the free text of the reason, notes and escalation. `body` stores
 * those sealed to the request: plain, the values sealed on the customer's own row would sit in clear beside it.
 */
function withCustomersParts(request: ChangeRequest, each: <T>(value: T) => T): ChangeRequest {
  return {
    ...request,
    reason: each(request.reason),
    items: request.items.map((item) => ({
      ...item,
      previous: each(item.previous),
      submitted: each(item.submitted),
      proposed: each(item.proposed),
    })),
    verifications: request.verifications.map((one) => ({ ...one, evidence: each(one.evidence) })),
    notes: request.notes.map((note) => ({ ...note, text: each(note.text) })),
    escalation: request.escalation && { ...request.escalation, note: each(request.escalation.note) },
  };
}

/** The request as `body` stores it (its sealed parts typed as what they seal). */
const storedBody = (cipher: FieldCipher, request: ChangeRequest) =>
  withCustomersParts(request, <T>(value: T) =>
    value === undefined || value === null ? value : (sealJson(cipher, value, request.id) as T),
  );

/** The request a stored `body` holds, its sealed parts opened (a body stored before they were sealed reads as is). */
function fromBody(cipher: FieldCipher, body: unknown): ChangeRequest {
  const stored = parsed<ChangeRequest>(body);
  return withCustomersParts(stored, (value) => openJson(cipher, value, stored.id));
}

/** Where `withCustomersParts` finds the parts it seals, as SQL/JSON paths from the body's root. */
export const CHANGE_REQUEST_PARTS = [
  'reason',
  'items[*].previous',
  'items[*].submitted',
  'items[*].proposed',
  'verifications[*].evidence',
  'notes[*].text',
  'escalation.note',
] as const;

/** A stored body with its parts sealed anew under the current key (key rotation). */
export const bodyResealed = (cipher: FieldCipher, body: unknown) =>
  storedBody(cipher, fromBody(cipher, body));

// The columns beside the body exist for lookups, queues and ordering.
const columnsOf = (request: ChangeRequest) => ({
  id: request.id,
  customer_id: request.customerId,
  state: request.state,
  tier: request.tier,
  channel: request.channel,
  version: request.version,
  created_at: request.createdAt,
  updated_at: request.updatedAt,
  expires_at: request.expiresAt,
  approval_due_at: request.state === 'awaiting_approval' ? request.approvalDueAt : null,
  assignee_id: request.assignee?.id ?? null,
  escalation_reason: request.escalation?.reason ?? null,
  escalated_at: request.escalation?.escalatedAt ?? null,
  completed_at: request.completedAt,
  fields: request.items.map((item) => item.field),
});

const toRow = (cipher: FieldCipher, request: ChangeRequest) => ({
  ...columnsOf(request),
  body: json(storedBody(cipher, request)),
});

/**
 * `Store.writeChangeRequest`: the request, the customer, its outbox rows and the audit entries in one statement,
 * where they took four round trips on the path every applied change takes. Each write in it runs only if the
 * one before held its guard; the counts say which did. The entries go in the statement when the transaction
 * holds their chains' heads (it locked the customer for the change), else in an append of their own after it.
 */
export async function writeChangeRequest(
  db: Executor,
  cipher: FieldCipher,
  { request, expectedVersion, applied, audit = [] }: ChangeRequestWrite,
  chains: { readonly sha256: Sha256Hex; readonly held: HeldChainHeads | undefined },
): Promise<ChangeRequestWritten> {
  const requestWrite =
    expectedVersion === null
      ? db.insertInto('change_request').values(toRow(cipher, request)).returning('id')
      : updateIfVersion(db, cipher, request, expectedVersion).returning('id');
  const within = appendWithin(audit, chains.sha256, cipher, chains.held);
  const auditCtes = (condition: RawBuilder<unknown>) => (within ? sql`, ${within.ctes(condition)}` : sql``);
  let written: ChangeRequestWritten;
  if (!applied) {
    const { rows } = await sql<{ requests: number }>`
      WITH request AS (${requestWrite}) ${auditCtes(sql`EXISTS (SELECT FROM request)`)}
      SELECT (SELECT count(*) FROM request)::int AS requests`.execute(db);
    written = rows[0]!.requests === 1 ? 'written' : 'request_moved';
  } else {
    const customerWrite = customerUpdateIfVersion(db, cipher, applied.customer, applied.expectedVersion)
      .where(sql<boolean>`EXISTS (SELECT FROM request)`)
      .returning('id');
    const { rows } = await sql<{ requests: number; customers: number }>`
      WITH request AS (${requestWrite}),
        customer AS (${customerWrite}),
        messages AS (${outboxInsert(cipher, applied.messages, applied.now, sql`EXISTS (SELECT FROM customer)`)})
        ${auditCtes(sql`EXISTS (SELECT FROM customer)`)}
      SELECT (SELECT count(*) FROM request)::int AS requests, (SELECT count(*) FROM customer)::int AS customers`.execute(
      db,
    );
    const { requests, customers } = rows[0]!;
    written = requests !== 1 ? 'request_moved' : customers === 1 ? 'written' : 'customer_moved';
  }
  if (written !== 'written') return written;
  if (within) within.appended();
  else await appendAuditEntries(db, audit, chains.sha256, cipher, chains.held);
  return written;
}

export async function findChangeRequest(
  db: Executor,
  cipher: FieldCipher,
  id: string,
): Promise<ChangeRequest | null> {
  const row = await db.selectFrom('change_request').select('body').where('id', '=', id).executeTakeFirst();
  return row ? fromBody(cipher, row.body) : null;
}

/** Locks the request for a command; FOR NO KEY UPDATE, as the customer's lock, so rows that reference it can be written. */
export async function lockChangeRequest(
  db: Executor,
  cipher: FieldCipher,
  id: string,
): Promise<ChangeRequest | null> {
  const row = await db
    .selectFrom('change_request')
    .select('body')
    .where('id', '=', id)
    .forNoKeyUpdate()
    .executeTakeFirst();
  return row ? fromBody(cipher, row.body) : null;
}

export async function lockChangeRequests(
  db: Executor,
  cipher: FieldCipher,
  ids: readonly string[],
): Promise<ChangeRequest[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('change_request')
    .select('body')
    .where('id', '=', anyUuid(ids))
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
  return rows.map((row) => fromBody(cipher, row.body));
}

/** Saves the request if the stored version is still `expectedVersion`; false means a concurrent writer won. */
export async function updateChangeRequestIfVersion(
  db: Executor,
  cipher: FieldCipher,
  request: ChangeRequest,
  expectedVersion: number,
): Promise<boolean> {
  const result = await updateIfVersion(db, cipher, request, expectedVersion).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

function updateIfVersion(db: Executor, cipher: FieldCipher, request: ChangeRequest, expectedVersion: number) {
  const { id: _id, created_at: _created, customer_id: _customer, ...changes } = toRow(cipher, request);
  return db
    .updateTable('change_request')
    .set(changes)
    .where('id', '=', request.id)
    .where('version', '=', expectedVersion);
}

export async function updateChangeRequestsIfVersion(
  db: Executor,
  cipher: FieldCipher,
  updates: readonly { request: ChangeRequest; expectedVersion: number }[],
): Promise<number> {
  if (updates.length === 0) return 0;
  const rows = updates.map(({ request }) => ({
    ...toRow(cipher, request),
    body: storedBody(cipher, request),
  }));
  const ids = updates.map(({ request }) => request.id);
  const { rows: updated } = await sql<{ id: string }>`
    UPDATE change_request AS stored SET state = given.state, tier = given.tier, channel = given.channel,
      version = given.version, updated_at = given.updated_at, expires_at = given.expires_at,
      approval_due_at = given.approval_due_at, assignee_id = given.assignee_id,
      escalation_reason = given.escalation_reason, escalated_at = given.escalated_at,
      completed_at = given.completed_at, fields = given.fields, body = given.body
    FROM json_populate_recordset(NULL::change_request, ${JSON.stringify(rows)}::json) AS given
    JOIN unnest(${ids}::uuid[], ${updates.map((u) => u.expectedVersion)}::int[]) AS expected (id, version)
      ON expected.id = given.id
    WHERE stored.id = given.id AND stored.version = expected.version AND stored.id = ANY(${ids}::uuid[])
    RETURNING stored.id`.execute(db);
  return updated.length;
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
  cipher: FieldCipher,
  filter: ChangeRequestFilter,
): Promise<Page<ChangeRequest>> {
  let query = db
    .selectFrom('change_request')
    .select(['id', 'body'])
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.after) query = query.where('id', '<', filter.after);
  return pageOf(
    await query.execute(),
    filter.limit,
    (row) => fromBody(cipher, row.body),
    (row) => row.id,
  );
}

// Queue cursors carry the sort key and the id (`<ISO time>_<uuid>`), stable under inserts. The API schema
// validates their shape (QUEUE_CURSOR_PATTERN), so a malformed one never reaches here.
const encodeCursor = (key: string, id: string) => `${key}_${id}`;
const decodeCursor = (cursor: string | undefined): [string, string] | null => {
  const at = cursor?.indexOf('_') ?? -1;
  return cursor && at > 0 ? [cursor.slice(0, at), cursor.slice(at + 1)] : null;
};

const FAR_FUTURE = '9999-12-31T00:00:00.000Z';

/** The approval queue: oldest deadline first; `isOverdue` keeps only (or drops) requests past their deadline at `now`. */
export async function listApprovalQueue(
  db: Executor,
  cipher: FieldCipher,
  filter: {
    tier?: string | undefined;
    isOverdue?: boolean | undefined;
    assigneeId?: string | undefined;
    now: string;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<ChangeRequest>> {
  const dueKey = sql<string>`coalesce(approval_due_at, ${FAR_FUTURE}::timestamptz)`;
  let query = db
    .selectFrom('change_request')
    .select(['id', 'body', sql<Date>`${dueKey}`.as('due_key')])
    .where('state', '=', 'awaiting_approval')
    .orderBy(dueKey)
    .orderBy('id')
    .limit(filter.limit + 1);
  if (filter.tier) query = query.where('tier', '=', filter.tier);
  if (filter.assigneeId) query = query.where('assignee_id', '=', filter.assigneeId);
  if (filter.isOverdue === true) query = query.where('approval_due_at', '<=', new Date(filter.now));
  if (filter.isOverdue === false)
    query = query.where((eb) =>
      eb.or([eb('approval_due_at', 'is', null), eb('approval_due_at', '>', new Date(filter.now))]),
    );
  const cursor = decodeCursor(filter.after);
  if (cursor)
    query = query.where(sql<boolean>`(${dueKey}, id) > (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)`);
  return pageOf(
    await query.execute(),
    filter.limit,
    (row) => fromBody(cipher, row.body),
    (row) => encodeCursor(new Date(row.due_key).toISOString(), row.id),
  );
}

/** The escalation queue: longest-waiting first. */
export async function listEscalationQueue(
  db: Executor,
  cipher: FieldCipher,
  filter: {
    reason?: string | undefined;
    assigneeId?: string | undefined;
    isUnassigned?: boolean | undefined;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<ChangeRequest>> {
  let query = db
    .selectFrom('change_request')
    .select(['id', 'body', 'escalated_at'])
    .where('state', '=', 'escalated')
    .orderBy('escalated_at')
    .orderBy('id')
    .limit(filter.limit + 1);
  if (filter.reason) query = query.where('escalation_reason', '=', filter.reason);
  if (filter.assigneeId) query = query.where('assignee_id', '=', filter.assigneeId);
  if (filter.isUnassigned) query = query.where('assignee_id', 'is', null);
  const cursor = decodeCursor(filter.after);
  if (cursor)
    query = query.where(sql<boolean>`(escalated_at, id) > (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)`);
  return pageOf(
    await query.execute(),
    filter.limit,
    (row) => fromBody(cipher, row.body),
    (row) => (row.escalated_at ? encodeCursor(new Date(row.escalated_at).toISOString(), row.id) : null),
  );
}

/** Requests whose time ran out at `now`: pending ones past expiry, approvals past their deadline not yet flagged. */
export async function listDueChangeRequests(
  db: Executor,
  now: string,
  limit: number,
): Promise<{ expired: string[]; overdue: string[] }> {
  const at = new Date(now);
  const expired = await db
    .selectFrom('change_request')
    .select('id')
    .where('state', 'in', [...PENDING_STATES])
    .where('expires_at', '<=', at)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  const overdue = await db
    .selectFrom('change_request')
    .select('id')
    .where('state', '=', 'awaiting_approval')
    .where('approval_due_at', '<=', at)
    .where(sql<boolean>`(body->>'approvalOverdueAt') IS NULL`)
    .orderBy('approval_due_at')
    .limit(limit)
    .execute();
  return { expired: expired.map((row) => row.id), overdue: overdue.map((row) => row.id) };
}
