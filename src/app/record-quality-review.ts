import type { Actor } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { Store, UseCaseContext } from './ports.ts';
import { inTransaction } from './transaction-fns.ts';

/** A manager's quality review of a completed request: was it processed without error? Feeds the accuracy rate. */
export function recordQualityReview(
  deps: Pick<UseCaseContext, 'clock'> & { readonly store: Pick<Store, 'transaction'> },
  changeRequestId: string,
  actor: Actor,
  review: { hasError: boolean; note: string | null },
): Promise<Result<{ changeRequestId: string; hasError: boolean }>> {
  const at = deps.clock.now().toISOString();
  return inTransaction(deps.store, async (tx) => {
    const request = await tx.findChangeRequest(changeRequestId);
    if (!request) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    if (request.state !== 'completed' && request.state !== 'reverted')
      return fail(
        'CHANGE_REQUEST.ILLEGAL_TRANSITION',
        `Change request ${changeRequestId} is ${request.state}; only completed requests are quality-reviewed.`,
      );
    if (
      !(await tx.recordQualityReview({
        changeRequestId,
        by: actor,
        at,
        hasError: review.hasError,
        note: review.note,
      }))
    )
      return fail(
        'CHANGE_REQUEST.ILLEGAL_TRANSITION',
        `Change request ${changeRequestId} was quality-reviewed already.`,
      );
    await tx.appendAudit([
      {
        chain: request.customerId,
        occurredAt: at,
        actor,
        action: 'quality.reviewed',
        changeRequestId,
        details: { hasError: review.hasError, note: review.note },
      },
    ]);
    return ok({ changeRequestId, hasError: review.hasError });
  });
}
