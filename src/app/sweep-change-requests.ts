import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

const SWEEP_BATCH = 200;
/** How long a stored idempotent response answers retries (the API promises a day). */
export const IDEMPOTENCY_REPLAY_MS = 24 * 60 * 60 * 1000;
const PRUNE_BATCH = 1000;

/**
 * Acts on requests whose time ran out: pending requests past their lifetime expire; approvals past their
 * business-day deadline are flagged overdue and routed to managers (an audit entry records the breach). Then
 * prunes what is kept only for a while: source touches, idempotent responses past their replay window.
 */
export async function sweepChangeRequests(
  deps: Deps & {
    readonly store: Pick<Store, 'transaction' | 'listDueChangeRequests' | 'pruneIdempotentResponses'>;
  },
): Promise<{
  expired: number;
  overdue: number;
  deadlineBreaches: number;
  idempotentResponsesPruned: number;
}> {
  const due = await deps.store.listDueChangeRequests(deps.clock.now().toISOString(), SWEEP_BATCH);
  let expired = 0;
  let overdue = 0;
  for (const id of due.expired) {
    if ((await runChangeRequestCommand(deps, id, SYSTEM_ACTOR, () => ({ type: 'expire' }))).ok) expired += 1;
  }
  for (const id of due.overdue) {
    if ((await runChangeRequestCommand(deps, id, SYSTEM_ACTOR, () => ({ type: 'flag_approval_overdue' }))).ok)
      overdue += 1;
  }
  // Withdrawn consents not yet confirmed by a marketing system within the legal deadline.
  const breaches = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now().toISOString();
    const flagged = await tx.flagDeadlineBreaches(now, SWEEP_BATCH);
    await tx.appendAudit(
      flagged.map((delivery) => ({
        chain: delivery.customerId,
        occurredAt: now,
        actor: SYSTEM_ACTOR,
        action: 'propagation.deadline_breached',
        changeRequestId: delivery.changeRequestId,
        details: {
          system: delivery.destination,
          outboxId: delivery.id,
          deadlineAt: delivery.deadlineAt,
          status: delivery.status,
        },
      })),
    );
    return flagged.length;
  });
  // Source touches matter only within the spread rule's window; a day's margin keeps the table small.
  await deps.store.transaction((tx) =>
    tx.pruneSourceTouches(new Date(deps.clock.now().getTime() - 24 * 60 * 60 * 1000).toISOString()),
  );
  // A batch a statement, so no statement holds many rows; a full batch means there may be more.
  const replayedSince = new Date(deps.clock.now().getTime() - IDEMPOTENCY_REPLAY_MS).toISOString();
  let idempotentResponsesPruned = 0;
  for (;;) {
    const pruned = await deps.store.pruneIdempotentResponses(replayedSince, PRUNE_BATCH);
    idempotentResponsesPruned += pruned;
    if (pruned < PRUNE_BATCH) break;
  }
  return { expired, overdue, deadlineBreaches: breaches, idempotentResponsesPruned };
}
