import type { Actor } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { AnomalyFlag, Store, UseCaseContext } from './ports.ts';
import { inTransaction } from './transaction-fns.ts';

/** A team lead's or manager's decision on a flag: dismissed with a reason, or confirmed as unauthorised. */
export function reviewAnomalyFlag(
  deps: UseCaseContext & { readonly store: Pick<Store, 'transaction'> },
  flagId: string,
  actor: Actor,
  decision: 'dismissed' | 'confirmed',
  reason: string,
): Promise<Result<AnomalyFlag>> {
  const at = deps.clock.now().toISOString();
  return inTransaction<AnomalyFlag>(deps.store, async (tx) => {
    const flag = await tx.reviewAnomalyFlag(flagId, { status: decision, by: actor, at, reason });
    if (!flag)
      return fail(
        'ANOMALY.NOT_OPEN',
        `No open anomaly flag has id ${flagId}; it may have been reviewed already.`,
        { flagId },
      );
    await tx.appendAudit([
      {
        chain: flag.customerId,
        occurredAt: at,
        actor,
        action: 'anomaly.reviewed',
        changeRequestId: flag.changeRequestId || null,
        details: { flagId, rule: flag.rule, decision, reason },
      },
    ]);
    return ok(flag);
  });
}
