import { decide, type RequestedChange, receiveChangeRequest } from '../core/change-request-fns.ts';
import type { Actor, ChangeItem, ChangeRequest, Source } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { CommunicationPreferences, Customer } from '../core/customer-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { isSameValue } from '../core/value-fns.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { decisionContext, type SecurityCase, type Store, type UseCaseContext } from './ports.ts';
import { inTransaction } from './transaction-fns.ts';

/** The value that undoes one item, in the shape a request takes (consents as per-channel booleans). */
function undo(item: ChangeItem, customer: Customer): RequestedChange | null {
  if (item.field === 'communicationPreferences') {
    const before = item.previous as CommunicationPreferences;
    const channels = Object.keys(item.proposed as object) as (keyof CommunicationPreferences)[];
    const value = Object.fromEntries(
      channels
        .filter(
          (channel) => customer.communicationPreferences[channel].isGranted !== before[channel].isGranted,
        )
        .map((channel) => [channel, before[channel].isGranted]),
    );
    return Object.keys(value).length > 0 ? { field: item.field, value } : null;
  }
  return isSameValue(item.previous, customer[item.field])
    ? null
    : { field: item.field, value: item.previous };
}

/**
 * A team lead's one action on a "this wasn't me" case: the previous values go back through the normal path —
 * a new change request of type revert, authorised by the customer's report, applied, audited, propagated to
 * every connected system and confirmed. The reported request becomes `reverted`.
 */
export async function revertChangeRequest(
  deps: UseCaseContext & { readonly store: Pick<Store, 'transaction'> },
  caseId: string,
  actor: Actor,
  source: Source,
): Promise<Result<ChangeRequest>> {
  const now = deps.clock.now().toISOString();
  return inTransaction(deps.store, async (tx) => {
    const securityCase = await tx.lockSecurityCase(caseId);
    if (!securityCase) return fail('CASE.NOT_FOUND', `No security case has id ${caseId}.`);
    if (securityCase.status !== 'open' || securityCase.revertRequestId)
      return fail(
        'CASE.NOT_OPEN',
        `Case ${caseId} is resolved or already reverted (by change request ${securityCase.revertRequestId ?? '-'}).`,
      );
    const original = await tx.lockChangeRequest(securityCase.changeRequestId);
    const customer = await tx.lockCustomer(securityCase.customerId);
    if (!original || !customer)
      return fail('CASE.NOT_FOUND', `The change or customer of case ${caseId} no longer exists.`);
    const changes = original.items
      .map((item) => undo(item, customer))
      .filter((change): change is RequestedChange => change !== null);
    if (changes.length === 0)
      return fail(
        'FIELD.UNCHANGED',
        `The record already holds the values from before change request ${original.id}; resolve the case instead.`,
      );
    const received = receiveChangeRequest(
      {
        id: deps.ids.newId(),
        customer,
        changes,
        channel: 'email',
        requester: actor,
        source,
        reason: `Revert of change request ${original.id}, reported as not the customer's (case ${caseId}).`,
        intakeVerifications: [
          {
            id: deps.ids.newId(),
            method: 'not_me_link',
            outcome: 'passed',
            evidence: { linkId: securityCase.linkId, caseId },
            recordedBy: SYSTEM_ACTOR,
            recordedAt: now,
          },
        ],
        isSubmissionConfirmed: true,
        revertOf: original.id,
      },
      decisionContext(deps),
    );
    if (!received.ok) return received;
    const outcome = await applyWhenReady(tx, received.value, deps, actor);
    if (!outcome.ok) return outcome;
    const revert = await saveOutcome(tx, outcome.value, null, deps);
    if (!revert.ok) return revert;
    if (revert.value.state === 'escalated') return ok(revert.value);
    const marked = decide(
      original,
      { type: 'mark_reverted', by: actor, revertRequestId: revert.value.id },
      decisionContext(deps),
    );
    if (!marked.ok) return marked;
    const savedOriginal = await saveOutcome(
      tx,
      { ...marked.value, customerWrite: null },
      original.version,
      deps,
    );
    if (!savedOriginal.ok) return savedOriginal;
    await tx.updateSecurityCase({ ...securityCase, revertRequestId: revert.value.id });
    return ok(revert.value);
  });
}

/** Closes a case: after the revert, or as not fraud after all. Lifts the freeze this case put on the customer. */
export async function resolveSecurityCase(
  deps: UseCaseContext & { readonly store: Pick<Store, 'transaction'> },
  caseId: string,
  actor: Actor,
  resolution: 'reverted' | 'not_fraud',
  note: string,
): Promise<Result<SecurityCase>> {
  const now = deps.clock.now().toISOString();
  return inTransaction<SecurityCase>(deps.store, async (tx) => {
    const securityCase = await tx.lockSecurityCase(caseId);
    if (!securityCase) return fail('CASE.NOT_FOUND', `No security case has id ${caseId}.`);
    if (securityCase.status !== 'open') return fail('CASE.NOT_OPEN', `Case ${caseId} is resolved already.`);
    if (resolution === 'reverted' && !securityCase.revertRequestId)
      return fail(
        'CASE.NOT_OPEN',
        `Case ${caseId} has no revert yet: revert it first, or resolve it as not_fraud.`,
      );
    const resolved = {
      ...securityCase,
      status: 'resolved' as const,
      resolvedAt: now,
      resolvedBy: actor,
      resolution,
      note,
    };
    await tx.updateSecurityCase(resolved);
    // The report's own flag is settled with the case: confirmed if reverted, dismissed if not fraud.
    const reportFlags = (
      await tx.openAnomalyFlags(securityCase.customerId, ['low', 'medium', 'high'])
    ).filter(
      (flag) => flag.rule === 'not_me_report' && flag.changeRequestId === securityCase.changeRequestId,
    );
    for (const flag of reportFlags)
      await tx.reviewAnomalyFlag(flag.id, {
        status: resolution === 'reverted' ? 'confirmed' : 'dismissed',
        by: actor,
        at: now,
        reason: `Case ${caseId}: ${note}`,
      });
    const customer = await tx.lockCustomer(securityCase.customerId);
    const isLifted = customer?.freeze?.caseId === caseId;
    if (isLifted) await tx.setCustomerFreeze(securityCase.customerId, null);
    await tx.appendAudit([
      {
        chain: securityCase.customerId,
        occurredAt: now,
        actor,
        action: 'security_case.resolved',
        changeRequestId: securityCase.changeRequestId,
        details: {
          caseId,
          resolution,
          note,
          revertRequestId: securityCase.revertRequestId,
          isFreezeLifted: isLifted,
        },
      },
    ]);
    return ok(resolved);
  });
}
