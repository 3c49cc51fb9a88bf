import type { Actor } from '../core/change-request-types.ts';
import type { FieldName } from '../core/customer-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { OutboxStatus, Store, UseCaseContext } from './ports.ts';

type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction'> };

/** Puts a dead letter back in the queue unchanged: for a fault now fixed (the system is back, a mapping corrected). */
export function retryDeadLetter(deps: Deps, outboxId: number, actor: Actor): Promise<Result<OutboxStatus>> {
  return requeue(deps, outboxId, actor, false);
}

/**
 * Re-sends a dead letter with the customer's current values for every field that system holds: for when the
 * old message can no longer be delivered as it was. It keeps its place in the order, so it still lands
 * before any later change to that customer, and keeps its change request, whose consistency it proves.
 */
export function replayDeadLetter(deps: Deps, outboxId: number, actor: Actor): Promise<Result<OutboxStatus>> {
  return requeue(deps, outboxId, actor, true);
}

async function requeue(
  deps: Deps,
  outboxId: number,
  actor: Actor,
  isReplay: boolean,
): Promise<Result<OutboxStatus>> {
  const now = deps.clock.now().toISOString();
  const requeued = await deps.store.transaction(async (tx) => {
    const row = await tx.findOutbox(outboxId);
    if (row?.status !== 'dead') return null;
    let replacement: { customerId: string; payload: Record<string, unknown>; sequence: number } | undefined;
    let fields: FieldName[] = [];
    if (isReplay) {
      const customer = await tx.lockCustomer(row.customerId);
      if (!customer) return null;
      fields = (Object.keys(deps.policy.fields) as FieldName[]).filter((field) =>
        deps.policy.fields[field].connectedSystems.includes(row.destination),
      );
      replacement = {
        customerId: customer.id,
        sequence: customer.version,
        payload: {
          changeId: row.changeRequestId ?? `replay-${outboxId}`,
          customerId: customer.id,
          sequence: customer.version,
          fields: Object.fromEntries(fields.map((field) => [field, customer[field]])),
          occurredAt: now,
        },
      };
    }
    if (!(await tx.requeueDeadLetter(outboxId, now, replacement))) return null;
    await tx.appendAudit([
      {
        chain: row.customerId,
        occurredAt: now,
        actor,
        action: isReplay ? 'propagation.dead_letter_replayed' : 'propagation.dead_letter_retried',
        changeRequestId: row.changeRequestId,
        details: {
          system: row.destination,
          outboxId: row.id,
          lastError: row.lastError,
          ...(isReplay ? { fields } : {}),
        },
      },
    ]);
    return tx.findOutbox(outboxId);
  });
  return requeued
    ? ok(requeued)
    : fail('DEAD_LETTER.NOT_FOUND', `No dead letter has id ${outboxId}.`, { outboxId });
}
