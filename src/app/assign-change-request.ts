import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import { fail, type Result } from '../core/result.ts';
import type { Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/** Gives a queued request (approval or escalation) to a team lead or manager. */
export async function assignChangeRequest(
  deps: Deps & { readonly store: Pick<Store, 'transaction' | 'listStaffUsers'> },
  changeRequestId: string,
  actor: Actor,
  assigneeId: string,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  const assignee = (await deps.store.listStaffUsers()).find((user) => user.id === assigneeId);
  if (!assignee || (assignee.role !== 'team_lead' && assignee.role !== 'manager'))
    return fail(
      'REQUEST.INVALID',
      `Staff member ${assigneeId} is not a team lead or manager; assign to one of them.`,
      {
        errors: [{ path: 'body.assigneeId', message: 'Give the id of a team lead or manager.' }],
      },
    );
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'assign', by: actor, assigneeId }),
    { expectedVersion },
  );
}
