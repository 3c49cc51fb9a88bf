import type { ChangeRequestCommand } from '../core/change-request-fns.ts';
import type { ChangeRequest } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import type { Store, WaitingRequest } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Moves the request on past its deliveries of `kind`, which the caller found all confirmed (the outbox worker
 * checks a whole batch's requests in one read): a propagating request becomes `consistent`, a consistent one
 * whose confirmations the mail server accepted is completed (only then was the customer told). The state
 * machine is the guard: a request no longer where that applies (another worker moved it first) answers null,
 * which costs a rolled-back transaction only in that rare race rather than a read every time.
 */
export async function advance(
  deps: Deps,
  { changeRequestId, kind }: WaitingRequest,
): Promise<Result<ChangeRequest | null>> {
  const command: ChangeRequestCommand =
    kind === 'propagation' ? { type: 'mark_consistent' } : { type: 'complete' };
  const advanced = await runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => command);
  return !advanced.ok && advanced.error.code === 'CHANGE_REQUEST.ILLEGAL_TRANSITION' ? ok(null) : advanced;
}

/**
 * Moves a propagating request to `consistent` once every connected system holding a changed field has
 * confirmed the new value (read back, acknowledged where that is all a system offers, or attested).
 */
export async function markConsistentIfConfirmed(
  deps: Deps & { readonly store: Pick<Store, 'transaction' | 'fullyConfirmed'> },
  changeRequestId: string,
): Promise<Result<ChangeRequest | null>> {
  const [ready] = await deps.store.fullyConfirmed([{ changeRequestId, kind: 'propagation' }]);
  return ready ? advance(deps, ready) : ok(null);
}
