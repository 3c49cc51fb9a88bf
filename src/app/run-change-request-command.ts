import { type ChangeRequestCommand, decide } from '../core/change-request-fns.ts';
import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import { fail, type Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';
import { inTransaction } from './transaction-fns.ts';

export type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction'> };

export interface CommandOptions {
  /** The version the caller last saw (`If-Match`); a mismatch is refused rather than acting on stale data. */
  readonly expectedVersion?: number | undefined;
  /** Commands that re-validate values (edit) need the current customer record. */
  readonly needsCustomer?: boolean;
}

/**
 * The shape every command on an existing request shares: lock the request, decide in the core, apply if
 * that made it ready, save request + customer + audit + outbox in one transaction.
 */
export async function runChangeRequestCommand(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  makeCommand: (request: ChangeRequest, customer: Customer | null) => ChangeRequestCommand,
  options: CommandOptions = {},
): Promise<Result<ChangeRequest>> {
  return inTransaction(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request)
      return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`, {
        changeRequestId,
      });
    if (options.expectedVersion !== undefined && options.expectedVersion !== request.version)
      return fail(
        'CHANGE_REQUEST.STALE',
        `Change request ${changeRequestId} is at version ${request.version}, not ${options.expectedVersion}; reload it.`,
        {
          currentVersion: request.version,
        },
      );
    const customer = options.needsCustomer ? await tx.findCustomer(request.customerId) : null;
    const decided = decide(request, makeCommand(request, customer), decisionContext(deps));
    if (!decided.ok) return decided;
    const outcome = await applyWhenReady(tx, decided.value, deps, actor);
    if (!outcome.ok) return outcome;
    return saveOutcome(tx, outcome.value, request.version, deps);
  });
}
