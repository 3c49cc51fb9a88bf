import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  ClaimedOutboxMessage,
  Confirmation,
  FieldCipher,
  ManualTask,
  OutboxDelivery,
  OutboxMessage,
  OutboxState,
  OutboxStatus,
  Page,
  WaitingRequest,
} from '../app/ports.ts';
import type { Actor } from '../core/change-request-types.ts';
import { pageOf } from './page-fns.ts';
import { anyUuid, iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { Database, ManualTaskTable, OutboxTable } from './schema-types.ts';
import { openJson, sealJson } from './sealed-json.ts';

type Executor = Kysely<Database>;

/**
 * The insert of `messages`, due at `now`, as one statement of one parameter (its text the same however many
 * messages), to run alone or inside another statement; `onlyIf` (SQL) guards it there. Payloads carry the
 * customer's values (a connected system's fields, a confirmation's address): stored sealed to the customer.
 */
export function outboxInsert(
  cipher: FieldCipher,
  messages: readonly OutboxMessage[],
  now: string,
  onlyIf = sql`true`,
) {
  const rows = messages.map((message) => ({
    kind: message.kind,
    destination: message.destination,
    customer_id: message.customerId,
    change_request_id: message.changeRequestId,
    sequence: message.sequence,
    payload: sealJson(cipher, message.payload, message.customerId),
    next_attempt_at: now,
    created_at: now,
    deadline_at: message.deadlineAt,
  }));
  return sql`
    INSERT INTO outbox (kind, destination, customer_id, change_request_id, sequence, payload, next_attempt_at,
      created_at, deadline_at)
    SELECT kind, destination, customer_id, change_request_id, sequence, payload, next_attempt_at, created_at,
      deadline_at
    FROM json_populate_recordset(NULL::outbox, ${JSON.stringify(rows)}::json) WHERE ${onlyIf}`;
}

export async function enqueueOutbox(
  db: Executor,
  cipher: FieldCipher,
  messages: readonly OutboxMessage[],
  now: string,
): Promise<void> {
  if (messages.length > 0) await outboxInsert(cipher, messages, now).execute(db);
}

/**
 * Leases due messages. Only the oldest unfinished message of each (customer, destination) is eligible, so
 * a later change never overtakes an earlier one, even across workers; SKIP LOCKED lets workers share the
 * queue without waiting on each other; an expired lease (crashed worker) makes a message claimable again.
 */
export async function claimOutbox(
  db: Executor,
  cipher: FieldCipher,
  options: { owner: string; limit: number; now: string; leaseMs: number },
): Promise<ClaimedOutboxMessage[]> {
  const leaseUntil = new Date(Date.parse(options.now) + options.leaseMs).toISOString();
  const result = await sql<{
    id: number;
    kind: 'propagation' | 'confirmation';
    destination: string;
    customer_id: string;
    change_request_id: string | null;
    sequence: number;
    payload: unknown;
    attempts: number;
    drift_count: number;
    deadline_at: Date | null;
    created_at: Date;
  }>`
    WITH due AS (
      SELECT candidate.id FROM outbox AS candidate
      WHERE candidate.status = 'pending'
        AND candidate.next_attempt_at <= ${options.now}::timestamptz
        AND (candidate.lease_expires_at IS NULL OR candidate.lease_expires_at <= ${options.now}::timestamptz)
        AND NOT EXISTS (
          SELECT 1 FROM outbox AS earlier
          WHERE earlier.customer_id = candidate.customer_id
            AND earlier.destination = candidate.destination
            AND earlier.status <> 'delivered'
            AND earlier.id < candidate.id)
      ORDER BY candidate.next_attempt_at, candidate.id
      LIMIT ${options.limit}
      FOR UPDATE SKIP LOCKED)
    UPDATE outbox SET lease_owner = ${options.owner}, lease_expires_at = ${leaseUntil}::timestamptz, attempts = outbox.attempts + 1
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.id, outbox.kind, outbox.destination, outbox.customer_id, outbox.change_request_id,
      outbox.sequence, outbox.payload, outbox.attempts, outbox.drift_count, outbox.deadline_at, outbox.created_at`.execute(
    db,
  );
  return result.rows
    .map((row) => ({
      id: Number(row.id),
      kind: row.kind,
      destination: row.destination,
      customerId: row.customer_id,
      changeRequestId: row.change_request_id,
      sequence: row.sequence,
      payload: openJson<Record<string, unknown>>(cipher, parsed(row.payload), row.customer_id),
      attempts: row.attempts,
      driftCount: row.drift_count,
      deadlineAt: isoOrNull(row.deadline_at),
      createdAt: iso(row.created_at),
    }))
    .sort((a, b) => a.id - b.id);
}

export async function markOutboxDelivered(
  db: Executor,
  owner: string,
  deliveries: readonly OutboxDelivery[],
): Promise<Set<number>> {
  if (deliveries.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    UPDATE outbox SET status = 'delivered', delivered_at = given.at, lease_owner = NULL,
      lease_expires_at = NULL, last_error = NULL,
      confirmed_at = CASE WHEN given.confirmation IS NULL THEN outbox.confirmed_at ELSE given.at END,
      confirmation = coalesce(given.confirmation, outbox.confirmation)
    FROM unnest(
        ${deliveries.map((d) => d.id)}::bigint[],
        ${deliveries.map((d) => d.at)}::timestamptz[],
        ${deliveries.map((d) => d.confirmation)}::text[])
      AS given (id, at, confirmation)
    WHERE outbox.id = given.id AND outbox.lease_owner = ${owner} AND outbox.status = 'pending'
    RETURNING outbox.id`.execute(db);
  return new Set(rows.map((row) => Number(row.id)));
}

export async function markOutboxFailed(
  db: Executor,
  id: number,
  owner: string,
  failure: { error: string; retryAt: string | null; isDrift?: boolean },
): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set((eb) => ({
      status: failure.retryAt ? 'pending' : 'dead',
      next_attempt_at: failure.retryAt ?? new Date().toISOString(),
      lease_owner: null,
      lease_expires_at: null,
      last_error: failure.error.slice(0, 1000),
      drift_count: failure.isDrift ? eb('drift_count', '+', 1) : eb.ref('drift_count'),
    }))
    .where('id', '=', String(id))
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function confirmOutbox(
  db: Executor,
  id: number,
  now: string,
  confirmation: Confirmation,
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ confirmed_at: now, confirmation })
    .where('id', '=', String(id))
    .execute();
}

const statusFromRow = (row: Selectable<OutboxTable>): OutboxStatus => ({
  id: Number(row.id),
  kind: row.kind as OutboxStatus['kind'],
  destination: row.destination,
  customerId: row.customer_id,
  changeRequestId: row.change_request_id,
  status: row.status as OutboxState,
  attempts: row.attempts,
  driftCount: row.drift_count,
  lastError: row.last_error,
  createdAt: iso(row.created_at),
  deliveredAt: isoOrNull(row.delivered_at),
  confirmedAt: isoOrNull(row.confirmed_at),
  confirmation: row.confirmation as Confirmation | null,
  deadlineAt: isoOrNull(row.deadline_at),
  deadlineBreachedAt: isoOrNull(row.deadline_breached_at),
});

export async function findOutbox(db: Executor, id: number): Promise<OutboxStatus | null> {
  const row = await db.selectFrom('outbox').selectAll().where('id', '=', String(id)).executeTakeFirst();
  return row ? statusFromRow(row) : null;
}

/** The outbox messages of these change requests, oldest first: one read for many (a customer's data export). */
export async function outboxForChangeRequests(
  db: Executor,
  changeRequestIds: readonly string[],
): Promise<OutboxStatus[]> {
  if (changeRequestIds.length === 0) return [];
  const rows = await db
    .selectFrom('outbox')
    .selectAll()
    .where('change_request_id', '=', anyUuid(changeRequestIds))
    .orderBy('id')
    .execute();
  return rows.map(statusFromRow);
}

export async function fullyConfirmed(
  db: Executor,
  candidates: readonly WaitingRequest[],
): Promise<WaitingRequest[]> {
  if (candidates.length === 0) return [];
  const { rows } = await sql<{ id: string; kind: 'propagation' | 'confirmation' }>`
    SELECT given.id, given.kind
    FROM unnest(${candidates.map((c) => c.changeRequestId)}::uuid[], ${candidates.map((c) => c.kind)}::text[])
      AS given (id, kind)
    WHERE EXISTS (
        SELECT 1 FROM outbox WHERE outbox.change_request_id = given.id AND outbox.kind = given.kind)
      AND NOT EXISTS (
        SELECT 1 FROM outbox
        WHERE outbox.change_request_id = given.id AND outbox.kind = given.kind AND outbox.confirmed_at IS NULL)`.execute(
    db,
  );
  return rows.map((row) => ({ changeRequestId: row.id, kind: row.kind }));
}

export async function strandedChangeRequests(
  db: Executor,
  updatedBefore: string,
  limit: number,
): Promise<WaitingRequest[]> {
  const { rows } = await sql<{ id: string; kind: 'propagation' | 'confirmation' }>`
    SELECT request.id, waiting.kind
    FROM change_request AS request
    CROSS JOIN LATERAL (
      SELECT CASE request.state WHEN 'propagating' THEN 'propagation' ELSE 'confirmation' END AS kind
    ) AS waiting
    WHERE request.state IN ('propagating', 'consistent') AND request.updated_at < ${updatedBefore}
      AND EXISTS (
        SELECT 1 FROM outbox WHERE outbox.change_request_id = request.id AND outbox.kind = waiting.kind)
      AND NOT EXISTS (
        SELECT 1 FROM outbox
        WHERE outbox.change_request_id = request.id AND outbox.kind = waiting.kind AND outbox.confirmed_at IS NULL)
    ORDER BY request.updated_at
    LIMIT ${limit}`.execute(db);
  return rows.map((row) => ({ changeRequestId: row.id, kind: row.kind }));
}

export async function listDeadLetters(
  db: Executor,
  query: { destination?: string | undefined; limit: number; after?: number | undefined },
): Promise<{ items: OutboxStatus[]; nextCursor: number | null }> {
  let select = db
    .selectFrom('outbox')
    .selectAll()
    .where('status', '=', 'dead')
    .orderBy('id')
    .limit(query.limit + 1);
  if (query.destination) select = select.where('destination', '=', query.destination);
  if (query.after !== undefined) select = select.where('id', '>', String(query.after));
  return pageOf(await select.execute(), query.limit, statusFromRow, (row) => Number(row.id));
}

export async function requeueDeadLetter(
  db: Executor,
  cipher: FieldCipher,
  id: number,
  now: string,
  replacement?: { customerId: string; payload: Record<string, unknown>; sequence: number },
): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({
      status: 'pending',
      attempts: 0,
      drift_count: 0,
      next_attempt_at: now,
      ...(replacement
        ? {
            payload: json(sealJson(cipher, replacement.payload, replacement.customerId)),
            sequence: replacement.sequence,
          }
        : {}),
    })
    .where('id', '=', String(id))
    .where('status', '=', 'dead')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function flagDeadlineBreaches(
  db: Executor,
  now: string,
  limit: number,
): Promise<OutboxStatus[]> {
  const rows = await sql<Selectable<OutboxTable>>`
    UPDATE outbox SET deadline_breached_at = ${now}::timestamptz
    WHERE id IN (
      SELECT id FROM outbox
      WHERE deadline_at IS NOT NULL AND deadline_at <= ${now}::timestamptz AND confirmed_at IS NULL AND deadline_breached_at IS NULL
      ORDER BY deadline_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(db);
  return rows.rows.map(statusFromRow);
}

const taskFromRow = (cipher: FieldCipher, row: Selectable<ManualTaskTable>): ManualTask => ({
  id: row.id,
  outboxId: Number(row.outbox_id),
  system: row.system,
  customerId: row.customer_id,
  changeRequestId: row.change_request_id,
  values: openJson(cipher, parsed(row.field_values), row.customer_id),
  status: row.status as ManualTask['status'],
  createdAt: iso(row.created_at),
  attestedBy: row.attested_by ? parsed<Actor>(row.attested_by) : null,
  attestedAt: isoOrNull(row.attested_at),
  evidence: row.evidence,
});

/** Idempotent by outbox row: a redelivery of the same message does not open a second task. */
export async function createManualTask(
  db: Executor,
  cipher: FieldCipher,
  task: {
    id: string;
    outboxId: number;
    system: string;
    customerId: string;
    changeRequestId: string | null;
    values: Record<string, unknown>;
    now: string;
  },
): Promise<void> {
  await db
    .insertInto('manual_task')
    .values({
      id: task.id,
      outbox_id: String(task.outboxId),
      system: task.system,
      customer_id: task.customerId,
      change_request_id: task.changeRequestId,
      field_values: json(sealJson(cipher, task.values, task.customerId)),
      created_at: task.now,
    })
    .onConflict((conflict) => conflict.column('outbox_id').doNothing())
    .execute();
}

export async function listManualTasks(
  db: Executor,
  cipher: FieldCipher,
  query: {
    status?: 'open' | 'done' | undefined;
    system?: string | undefined;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<ManualTask>> {
  let select = db
    .selectFrom('manual_task')
    .selectAll()
    .orderBy('id')
    .limit(query.limit + 1);
  if (query.status) select = select.where('status', '=', query.status);
  if (query.system) select = select.where('system', '=', query.system);
  if (query.after) select = select.where('id', '>', query.after);
  return pageOf(
    await select.execute(),
    query.limit,
    (row) => taskFromRow(cipher, row),
    (row) => row.id,
  );
}

export async function attestManualTask(
  db: Executor,
  cipher: FieldCipher,
  id: string,
  by: Actor,
  now: string,
  evidence: string | null,
): Promise<ManualTask | null> {
  const row = await db
    .updateTable('manual_task')
    .set({ status: 'done', attested_by: json(by), attested_at: now, evidence })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
  return row ? taskFromRow(cipher, row) : null;
}
