import type { ChangeRequestCommand } from '../core/change-request-fns.ts';
import type { ChangeRequest } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import type { OutboxStatus, Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

type ConfirmDeps = Deps & {
  readonly store: Pick<Store, 'transaction' | 'outboxForChangeRequest'>;
};

/**
 * Runs `command` once every delivery of `kind` for the request is confirmed; else null. The state machine
 * is the guard: a request no longer where `command` applies (another worker moved it first) answers null
 * too, which costs a rolled-back transaction only in that rare race rather than a read every time.
 */
async function advanceWhenConfirmed(
  deps: ConfirmDeps,
  changeRequestId: string,
  kind: OutboxStatus['kind'],
  command: ChangeRequestCommand,
): Promise<Result<ChangeRequest | null>> {
  const deliveries = (await deps.store.outboxForChangeRequest(changeRequestId)).filter(
    (delivery) => delivery.kind === kind,
  );
  if (deliveries.length === 0 || deliveries.some((delivery) => delivery.confirmedAt === null))
    return ok(null);
  const advanced = await runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => command);
  return !advanced.ok && advanced.error.code === 'CHANGE_REQUEST.ILLEGAL_TRANSITION' ? ok(null) : advanced;
}

/**
 * Moves a propagating request to `consistent` once every connected system holding a changed field has
 * confirmed the new value (read back, acknowledged where that is all a system offers, or attested).
 */
export const markConsistentIfConfirmed = (deps: ConfirmDeps, changeRequestId: string) =>
  advanceWhenConfirmed(deps, changeRequestId, 'propagation', { type: 'mark_consistent' });

/** Completes a consistent request once the mail server accepted every confirmation: only then was the customer told. */
export const completeIfConfirmationsSent = (deps: ConfirmDeps, changeRequestId: string) =>
  advanceWhenConfirmed(deps, changeRequestId, 'confirmation', { type: 'complete' });
