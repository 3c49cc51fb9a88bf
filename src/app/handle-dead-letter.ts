import type { Actor } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { FieldName } from '../core/customer-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { OutboxStatus, Store, UseCaseContext } from './ports.ts';

type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction' | 'findOutbox'> };

/** Puts a dead letter back in the queue unchanged: for a fault now fixed (the system is back, a mapping corrected). */
export async function retryDeadLetter(
  deps: Deps,
  outboxId: number,
  actor: Actor,
): Promise<Result<OutboxStatus>> {
  const now = deps.clock.now().toISOString();
  const retried = await deps.store.transaction(async (tx) => {
    const row = await tx.findOutbox(outboxId);
    if (!row || !(await tx.retryDeadLetter(outboxId, now))) return null;
    await tx.appendAudit([auditEntry(row, actor, now, 'propagation.dead_letter_retried', {})]);
    return tx.findOutbox(outboxId);
  });
  return retried
    ? ok(retried)
    : fail('DEAD_LETTER.NOT_FOUND', `No dead letter has id ${outboxId}.`, { outboxId });
}

/**
 * Replaces a dead letter with a fresh message carrying the customer's current values for every field that
 * system holds: for when the old message can no longer be delivered as it was. The old row is kept, marked
 * replaced; the new one keeps the change request, so its consistency can still be proven.
 */
export async function replayDeadLetter(
  deps: Deps,
  outboxId: number,
  actor: Actor,
): Promise<Result<OutboxStatus>> {
  const now = deps.clock.now().toISOString();
  const replayed = await deps.store.transaction(async (tx) => {
    const row = await tx.findOutbox(outboxId);
    if (!row || row.status !== 'dead') return null;
    const customer = await tx.lockCustomer(row.customerId);
    if (!customer || !(await tx.replaceDeadLetter(outboxId))) return null;
    const held = (Object.keys(deps.policy.fields) as FieldName[]).filter((field) =>
      deps.policy.fields[field].connectedSystems.includes(row.destination),
    );
    await tx.enqueueOutbox(
      [
        {
          kind: 'propagation',
          destination: row.destination,
          customerId: customer.id,
          changeRequestId: row.changeRequestId,
          sequence: customer.version,
          payload: {
            changeId: row.changeRequestId ?? `replay-${outboxId}`,
            customerId: customer.id,
            sequence: customer.version,
            fields: Object.fromEntries(held.map((field) => [field, customer[field]])),
            occurredAt: now,
          },
          deadlineAt: row.deadlineAt,
        },
      ],
      now,
    );
    await tx.appendAudit([auditEntry(row, actor, now, 'propagation.dead_letter_replayed', { fields: held })]);
    return row;
  });
  return replayed
    ? ok({ ...replayed, status: 'replaced' })
    : fail('DEAD_LETTER.NOT_FOUND', `No dead letter has id ${outboxId}.`, { outboxId });
}

const auditEntry = (
  row: OutboxStatus,
  actor: Actor,
  now: string,
  action: string,
  details: Record<string, unknown>,
) => ({
  chain: row.customerId,
  occurredAt: now,
  actor: actor ?? SYSTEM_ACTOR,
  action,
  changeRequestId: row.changeRequestId,
  details: { system: row.destination, outboxId: row.id, lastError: row.lastError, ...details },
});
