import type { ChangeRequestCommand } from '../core/change-request-fns.ts';
import type { ChangeRequest, ChangeRequestState } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import type { OutboxStatus, Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

type ConfirmDeps = Deps & {
  readonly store: Pick<Store, 'transaction' | 'outboxForChangeRequest' | 'findChangeRequest'>;
};

/** Runs `command` once every delivery of `kind` for the request is confirmed and it is still in `state`; else null. */
async function advanceWhenConfirmed(
  deps: ConfirmDeps,
  changeRequestId: string,
  kind: OutboxStatus['kind'],
  state: ChangeRequestState,
  command: ChangeRequestCommand,
): Promise<Result<ChangeRequest | null>> {
  const deliveries = (await deps.store.outboxForChangeRequest(changeRequestId)).filter(
    (delivery) => delivery.kind === kind,
  );
  if (deliveries.length === 0 || deliveries.some((delivery) => delivery.confirmedAt === null))
    return ok(null);
  const request = await deps.store.findChangeRequest(changeRequestId);
  if (request?.state !== state) return ok(null);
  return runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => command);
}

/**
 * Moves a propagating request to `consistent` once every connected system holding a changed field has
 * confirmed the new value (read back, acknowledged where that is all a system offers, or attested).
 */
export const markConsistentIfConfirmed = (deps: ConfirmDeps, changeRequestId: string) =>
  advanceWhenConfirmed(deps, changeRequestId, 'propagation', 'propagating', { type: 'mark_consistent' });

/** Completes a consistent request once the mail server accepted every confirmation: only then was the customer told. */
export const completeIfConfirmationsSent = (deps: ConfirmDeps, changeRequestId: string) =>
  advanceWhenConfirmed(deps, changeRequestId, 'confirmation', 'consistent', { type: 'complete' });
