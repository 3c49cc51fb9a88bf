import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { VerificationMethod } from '../core/policy-types.ts';
import { fail, type Result } from '../core/result.ts';
import { enforceVerificationLimit } from './enforce-verification-limit.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';
import { inTransaction } from './transaction-fns.ts';

export interface VerificationRecord {
  readonly method: VerificationMethod;
  readonly outcome: 'passed' | 'failed';
  readonly evidence: Record<string, unknown>;
}

/**
 * Records one identity check (procedure step 2) with its evidence; enough passed checks move the request on.
 * A failure counts toward the customer's lockout (step 2.3).
 */
export async function verifyIdentity(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  record: VerificationRecord,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  const recordedAt = deps.clock.now().toISOString();
  const lockedUntil = await deps.store.transaction(async (tx) => {
    const existing = await tx.findChangeRequest(changeRequestId);
    return existing ? tx.verificationLockUntil(existing.customerId, recordedAt) : null;
  });
  if (lockedUntil)
    return fail(
      'CUSTOMER.VERIFICATION_LOCKED',
      `Too many failed identity checks: changes for this customer are locked until ${lockedUntil}.`,
      { lockedUntil },
    );
  const id = deps.ids.newId();
  const recorded = await runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'record_verification', verification: { id, ...record, recordedBy: actor, recordedAt } }),
    { expectedVersion },
  );
  if (!recorded.ok || record.outcome === 'passed') return recorded;
  return inTransaction(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    return request ? enforceVerificationLimit(tx, request, deps) : recorded;
  });
}
