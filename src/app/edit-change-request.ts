import type { RequestedChange } from '../core/change-request-fns.ts';
import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import { fail, type Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/** Replaces the requested changes; voids the read-back and any approval, which were given for other values. */
export async function editChangeRequest(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  changes: readonly RequestedChange[],
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  let missingCustomer = false;
  const result = await runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    (_request, customer) => {
      if (!customer) missingCustomer = true;
      return { type: 'edit', by: actor, changes, customer: customer! };
    },
    { expectedVersion, needsCustomer: true },
  );
  return missingCustomer
    ? fail('CUSTOMER.NOT_FOUND', `The customer of change request ${changeRequestId} no longer exists.`)
    : result;
}
