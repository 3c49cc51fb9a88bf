import { type AccountFact, checkAccountFact } from '../core/account-fact-fns.ts';
import { decide } from '../core/change-request-fns.ts';
import { type Actor, type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { enforceVerificationLimit } from './enforce-verification-limit.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';
import { inTransaction } from './transaction-fns.ts';

/**
 * A representative asks for a detail of the account from the script and types the answer; Amend compares it
 * with the record and records the outcome itself, so the check cannot be waved through. A wrong answer counts
 * toward the lockout.
 */
export function checkAccountFactAnswer(
  deps: UseCaseContext & { readonly store: Pick<Store, 'transaction'> },
  changeRequestId: string,
  actor: Actor,
  fact: AccountFact,
  answer: string,
): Promise<Result<{ isCorrect: boolean; request: ChangeRequest }>> {
  const now = deps.clock.now().toISOString();
  return inTransaction<{ isCorrect: boolean; request: ChangeRequest }>(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    const lockedUntil = await tx.verificationLockUntil(request.customerId, now);
    if (lockedUntil)
      return fail(
        'CUSTOMER.VERIFICATION_LOCKED',
        `Too many failed checks: changes are locked until ${lockedUntil}.`,
        { lockedUntil },
      );
    const customer = await tx.findCustomer(request.customerId);
    if (!customer) return fail('CUSTOMER.NOT_FOUND', `No customer has id ${request.customerId}.`);
    const isCorrect = checkAccountFact(customer, fact, answer);
    if (isCorrect === null)
      return fail(
        'VERIFICATION.EVIDENCE_MISSING',
        `The record holds no ${fact} to compare with; ask another question.`,
        { fact },
      );
    const recorded = decide(
      request,
      {
        type: 'record_verification',
        verification: {
          id: deps.ids.newId(),
          method: 'account_fact',
          outcome: isCorrect ? 'passed' : 'failed',
          evidence: { fact, comparedBy: 'amend', askedBy: actor.id },
          recordedBy: SYSTEM_ACTOR,
          recordedAt: now,
        },
      },
      decisionContext(deps),
    );
    if (!recorded.ok) return recorded;
    const outcome = await applyWhenReady(tx, recorded.value, deps, actor);
    if (!outcome.ok) return outcome;
    const saved = await saveOutcome(tx, outcome.value, request.version, deps);
    if (!saved.ok) return saved;
    if (isCorrect) return ok({ isCorrect, request: saved.value });
    const enforced = await enforceVerificationLimit(tx, saved.value, deps);
    return enforced.ok ? ok({ isCorrect, request: enforced.value }) : enforced;
  });
}
