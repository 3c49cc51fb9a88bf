import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/** A team lead's maker-checker decision (procedure step 7.2); an approval applies the change at once. */
export function approveChangeRequest(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  reason: string,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'approve', by: actor, reason }),
    { expectedVersion },
  );
}

export function rejectChangeRequest(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  reason: string,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'reject', by: actor, reason }),
    { expectedVersion },
  );
}
