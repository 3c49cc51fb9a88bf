import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

export function cancelChangeRequest(
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
    () => ({ type: 'cancel', by: actor, reason }),
    { expectedVersion },
  );
}
