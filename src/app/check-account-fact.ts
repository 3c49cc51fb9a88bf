import { type AccountFact, checkAccountFact } from '../core/account-fact-fns.ts';
import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { Store, UseCaseContext } from './ports.ts';
import { recordSystemVerification } from './record-system-verification.ts';
import { inTransaction } from './transaction-fns.ts';
import { checkVerificationLock } from './verification-lock.ts';

/**
 * A representative asks for a detail of the account from the script and types the answer; Amend compares it
 * with the record and records the outcome itself, so the check cannot be waved through.
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
    const unlocked = await checkVerificationLock(tx, request.customerId, now);
    if (!unlocked.ok) return unlocked;
    const customer = await tx.findCustomer(request.customerId);
    if (!customer) return fail('CUSTOMER.NOT_FOUND', `No customer has id ${request.customerId}.`);
    const isCorrect = checkAccountFact(customer, fact, answer);
    if (isCorrect === null)
      return fail(
        'VERIFICATION.EVIDENCE_MISSING',
        `The record holds no ${fact} to compare with; ask another question.`,
        { fact },
      );
    const saved = await recordSystemVerification(
      tx,
      request,
      { method: 'account_fact', isPassed: isCorrect, evidence: { fact, comparedBy: 'amend' } },
      actor,
      deps,
    );
    return saved.ok ? ok({ isCorrect, request: saved.value }) : saved;
  });
}
