import { decide } from '../core/change-request-fns.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { saveOutcome } from './change-request-flow.ts';
import { decisionContext, type SecurityCase, type Store, type UseCaseContext } from './ports.ts';
import { raiseAnomalies } from './raise-anomalies.ts';
import { inTransaction } from './transaction-fns.ts';

export interface NotMeReport {
  readonly caseId: string;
  readonly customerId: string;
  readonly changeRequestId: string;
}

/**
 * The customer's one click on "this wasn't me" (no sign-in: the signed, single-use link is the proof). Freezes
 * further changes to the customer, marks the change suspected unauthorised, and opens a high-priority case
 * for a team lead, all in one transaction.
 */
export async function reportNotMe(
  deps: UseCaseContext & { readonly store: Pick<Store, 'transaction'> },
  token: string,
): Promise<Result<NotMeReport>> {
  const linkId = deps.confirmations.linkSigner.verify(token);
  if (!linkId)
    return fail(
      'NOT_ME.LINK_INVALID',
      'This link is not valid. Please call us, and we will help straight away.',
    );
  const now = deps.clock.now().toISOString();
  return inTransaction<NotMeReport>(deps.store, async (tx) => {
    const link = await tx.useNotMeLink(linkId, now);
    if (link.outcome === 'unknown')
      return fail(
        'NOT_ME.LINK_INVALID',
        'This link is not valid. Please call us, and we will help straight away.',
      );
    if (link.outcome === 'already_used')
      return fail(
        'NOT_ME.LINK_USED',
        'This link was already used: your report stands, and a team lead is on it.',
      );
    if (link.outcome === 'expired')
      return fail(
        'NOT_ME.LINK_EXPIRED',
        'This link has expired. Please call us, and we will check the change with you.',
      );
    const request = await tx.lockChangeRequest(link.changeRequestId!);
    const customer = await tx.lockCustomer(link.customerId!);
    if (!request || !customer)
      return fail(
        'NOT_ME.LINK_INVALID',
        'This link is not valid. Please call us, and we will help straight away.',
      );
    const existing = (
      await tx.listSecurityCases({ status: 'open', customerId: customer.id, limit: 50 })
    ).items.find((c) => c.changeRequestId === request.id);
    if (existing) return ok({ caseId: existing.id, customerId: customer.id, changeRequestId: request.id });
    const securityCase: SecurityCase = {
      id: deps.ids.newId(),
      customerId: customer.id,
      changeRequestId: request.id,
      kind: 'suspected_unauthorised_change',
      priority: 'high',
      status: 'open',
      openedAt: now,
      linkId,
      revertRequestId: null,
      resolvedAt: null,
      resolvedBy: null,
      resolution: null,
      note: null,
    };
    await tx.openSecurityCase(securityCase);
    if (!customer.freeze)
      await tx.setCustomerFreeze(customer.id, {
        caseId: securityCase.id,
        frozenAt: now,
        reason: 'suspected unauthorised change',
      });
    const reported = decide(
      request,
      { type: 'report_not_me', linkId, caseId: securityCase.id },
      decisionContext(deps),
    );
    if (!reported.ok) return reported;
    const saved = await saveOutcome(tx, { ...reported.value, customerWrite: null }, request.version, deps);
    if (!saved.ok) return saved;
    await raiseAnomalies(
      tx,
      {
        at: now,
        kind: 'not_me_reported',
        customerId: customer.id,
        changeRequestId: request.id,
        fields: request.items.map((i) => i.field),
        tier: request.tier,
        sources: [],
      },
      deps,
    );
    await tx.appendAudit([
      {
        chain: customer.id,
        occurredAt: now,
        actor: SYSTEM_ACTOR,
        action: 'customer.frozen',
        changeRequestId: request.id,
        details: { caseId: securityCase.id, reason: 'suspected unauthorised change', priority: 'high' },
      },
    ]);
    return ok({ caseId: securityCase.id, customerId: customer.id, changeRequestId: request.id });
  });
}
