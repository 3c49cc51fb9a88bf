import { type Kysely, sql } from 'kysely';
import type { ClaimedOutboxMessage, OutboxMessage, OutboxStatus } from '../app/ports.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { Database } from './schema-types.ts';

type Executor = Kysely<Database>;

export async function enqueueOutbox(
  db: Executor,
  messages: readonly OutboxMessage[],
  now: string,
): Promise<void> {
  if (messages.length === 0) return;
  await db
    .insertInto('outbox')
    .values(
      messages.map((message) => ({
        kind: message.kind,
        destination: message.destination,
        customer_id: message.customerId,
        change_request_id: message.changeRequestId,
        sequence: message.sequence,
        payload: json(message.payload),
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .execute();
}

/**
 * Leases due messages. Only the oldest undelivered message of each (customer, destination) is eligible, so
 * a later change never overtakes an earlier one, even across workers; SKIP LOCKED lets workers share the
 * queue without waiting on each other; an expired lease (crashed worker) makes a message claimable again.
 */
export async function claimOutbox(
  db: Executor,
  options: { owner: string; limit: number; now: string; leaseMs: number },
): Promise<ClaimedOutboxMessage[]> {
  const leaseUntil = new Date(Date.parse(options.now) + options.leaseMs).toISOString();
  const result = await sql<{
    id: number;
    kind: 'propagation';
    destination: string;
    customer_id: string;
    change_request_id: string | null;
    sequence: number;
    payload: unknown;
    attempts: number;
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
      outbox.sequence, outbox.payload, outbox.attempts, outbox.created_at`.execute(db);
  return result.rows
    .map((row) => ({
      id: Number(row.id),
      kind: row.kind,
      destination: row.destination,
      customerId: row.customer_id,
      changeRequestId: row.change_request_id,
      sequence: row.sequence,
      payload: parsed<Record<string, unknown>>(row.payload),
      attempts: row.attempts,
      createdAt: iso(row.created_at),
    }))
    .sort((a, b) => a.id - b.id);
}

/** Marks delivered if this worker still holds the lease; false means the lease was lost (another worker took over). */
export async function markOutboxDelivered(
  db: Executor,
  id: number,
  owner: string,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({
      status: 'delivered',
      delivered_at: now,
      lease_owner: null,
      lease_expires_at: null,
      last_error: null,
    })
    .where('id', '=', String(id))
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Schedules a retry at `retryAt`, or dead-letters the message when `retryAt` is null. */
export async function markOutboxFailed(
  db: Executor,
  id: number,
  owner: string,
  failure: { error: string; retryAt: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({
      status: failure.retryAt ? 'pending' : 'dead',
      next_attempt_at: failure.retryAt ?? new Date().toISOString(),
      lease_owner: null,
      lease_expires_at: null,
      last_error: failure.error.slice(0, 1000),
    })
    .where('id', '=', String(id))
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function outboxForChangeRequest(db: Executor, changeRequestId: string): Promise<OutboxStatus[]> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'destination', 'status', 'attempts', 'last_error', 'delivered_at'])
    .where('change_request_id', '=', changeRequestId)
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: Number(row.id),
    destination: row.destination,
    status: row.status as OutboxStatus['status'],
    attempts: row.attempts,
    lastError: row.last_error,
    deliveredAt: isoOrNull(row.delivered_at),
  }));
}
