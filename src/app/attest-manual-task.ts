import type { Actor } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { markConsistentIfConfirmed } from './confirm-consistency.ts';
import type { ManualTask, Store } from './ports.ts';
import type { Deps } from './run-change-request-command.ts';

/**
 * A person confirms they entered the values in a system without an API (procedure step 5.2). The delivery
 * counts as confirmed, the attestation is audited, and the request may become consistent.
 */
export async function attestManualTask(
  deps: Deps & {
    readonly store: Pick<Store, 'transaction' | 'fullyConfirmed' | 'findChangeRequest'>;
  },
  taskId: string,
  actor: Actor,
  evidence: string | null,
): Promise<Result<ManualTask>> {
  const now = deps.clock.now().toISOString();
  const task = await deps.store.transaction(async (tx) => {
    const done = await tx.attestManualTask(taskId, actor, now, evidence);
    if (!done) return null;
    await tx.confirmOutbox(done.outboxId, now, 'attested');
    await tx.appendAudit([
      {
        chain: done.customerId,
        occurredAt: now,
        actor,
        action: 'propagation.attested',
        changeRequestId: done.changeRequestId,
        details: { system: done.system, taskId: done.id, fields: Object.keys(done.values), evidence },
      },
    ]);
    return done;
  });
  if (!task)
    return fail('MANUAL_TASK.NOT_OPEN', `No open manual task has id ${taskId}; it may be done already.`, {
      taskId,
    });
  if (task.changeRequestId) await markConsistentIfConfirmed(deps, task.changeRequestId);
  return ok(task);
}
