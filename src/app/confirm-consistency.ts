import type { ChangeRequest } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import type { Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Moves a propagating request to `consistent` once every connected system holding a changed field has
 * confirmed the new value (read back, acknowledged where that is all a system offers, or attested).
 * Answers null while any confirmation is outstanding.
 */
export async function markConsistentIfConfirmed(
  deps: Deps & {
    readonly store: Pick<Store, 'transaction' | 'outboxForChangeRequest' | 'findChangeRequest'>;
  },
  changeRequestId: string,
): Promise<Result<ChangeRequest | null>> {
  const deliveries = (await deps.store.outboxForChangeRequest(changeRequestId)).filter(
    (delivery) => delivery.kind === 'propagation',
  );
  if (deliveries.some((delivery) => delivery.confirmedAt === null)) return ok(null);
  const request = await deps.store.findChangeRequest(changeRequestId);
  if (request?.state !== 'propagating') return ok(null);
  return runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => ({ type: 'mark_consistent' }));
}

/**
 * Completes a consistent request once the mail server accepted every confirmation (procedure step 6): only
 * then has the customer been told.
 */
export async function completeIfConfirmationsSent(
  deps: Deps & {
    readonly store: Pick<Store, 'transaction' | 'outboxForChangeRequest' | 'findChangeRequest'>;
  },
  changeRequestId: string,
): Promise<Result<ChangeRequest | null>> {
  const confirmations = (await deps.store.outboxForChangeRequest(changeRequestId)).filter(
    (delivery) => delivery.kind === 'confirmation',
  );
  if (confirmations.length === 0 || confirmations.some((delivery) => delivery.confirmedAt === null))
    return ok(null);
  const request = await deps.store.findChangeRequest(changeRequestId);
  if (request?.state !== 'consistent') return ok(null);
  return runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => ({ type: 'complete' }));
}
