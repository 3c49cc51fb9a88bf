import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Records that the requester confirmed the normalised values as read back (procedure step 3.3). `revision`
 * names the values confirmed: a confirmation of values since edited is refused.
 */
export function confirmChangeRequest(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  revision: number,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'confirm_read_back', by: actor, revision }),
    { expectedVersion },
  );
}
