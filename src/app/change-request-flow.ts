import { intakeActivity, isAtLeast } from '../core/anomaly-fns.ts';
import { auditDraftsForEvents } from '../core/audit-draft-fns.ts';
import type { AuditEntryDraft } from '../core/audit-types.ts';
import { applyToCustomer, checkReadyToApply, decide, type Transition } from '../core/change-request-fns.ts';
import { type Actor, type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import { SEVERITIES } from '../core/policy-types.ts';
import { propagationMessages } from '../core/propagation-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { enqueueConfirmations } from './enqueue-confirmations.ts';
import { type AnomalyFlag, decisionContext, type Store, type UseCaseContext } from './ports.ts';
import { raiseAnomalies } from './raise-anomalies.ts';

export interface Outcome extends Transition {
  /** The customer as it must be written, with the version it must replace; absent if the record is untouched. */
  readonly customerWrite: { readonly customer: Customer; readonly expectedVersion: number } | null;
}

/**
 * Applies the change the moment it is ready (verified, read back, approved where needed). A value that moved
 * since the request was received escalates the request as a data discrepancy: never a blind overwrite.
 */
export async function applyWhenReady(
  tx: Pick<
    Store,
    'lockCustomer' | 'openAnomalyFlags' | 'anomalyHistory' | 'recordAnomalyFlags' | 'appendAudit'
  >,
  transition: Transition,
  context: UseCaseContext,
  actor: Actor,
  /**
   * What the intake already read in this transaction, saving the reads again: the customer it locked and the
   * open flags on it once its anomalies were raised.
   */
  intake?: { readonly customer: Customer; readonly openFlags: readonly AnomalyFlag[] },
): Promise<Result<Outcome>> {
  const { request } = transition;
  const decision = decisionContext(context);
  if (!checkReadyToApply(request, context.policy).ok) return ok({ ...transition, customerWrite: null });
  const known = intake?.customer.id === request.customerId ? intake : null;
  const customer = known?.customer ?? (await tx.lockCustomer(request.customerId));
  if (!customer) return fail('CUSTOMER.NOT_FOUND', `Customer ${request.customerId} not found.`);
  let openFlags = known?.openFlags ?? null;
  // Failed checks on this very request, before it passed, count against a sensitive change: look again now.
  if (!request.revertOf && (request.tier === 'sensitive' || request.tier === 'legal'))
    openFlags = await raiseAnomalies(
      tx,
      { ...intakeActivity(request), at: decision.now, kind: 'applying' },
      context,
    );
  // A serious open anomaly flag on the customer holds the change for a person (a revert is the remedy, never held).
  const holdSeverities = SEVERITIES.filter((s) => isAtLeast(s, context.policy.anomalyRules.holdSeverity));
  const holding = request.revertOf
    ? []
    : (openFlags ?? (await tx.openAnomalyFlags(customer.id, holdSeverities))).filter((flag) =>
        holdSeverities.includes(flag.severity),
      );
  if (holding.length > 0) {
    const held = decide(
      request,
      {
        type: 'escalate',
        by: SYSTEM_ACTOR,
        reason: 'anomaly_hold',
        note: `Held by anomaly flag: ${holding.map((flag) => flag.rule).join(', ')}. Review the flag, then resume.`,
      },
      decision,
    );
    if (!held.ok) return held;
    return ok({
      request: held.value.request,
      events: [...transition.events, ...held.value.events],
      customerWrite: null,
    });
  }
  const applied = applyToCustomer(request, customer, decision, actor);
  if (applied.ok) {
    return ok({
      request: applied.value.request,
      events: [...transition.events, ...applied.value.events],
      customerWrite: { customer: applied.value.customer, expectedVersion: customer.version },
    });
  }
  if (applied.error.code !== 'CUSTOMER.VERSION_CONFLICT' && applied.error.code !== 'CUSTOMER.FROZEN')
    return applied;
  const reason = applied.error.code === 'CUSTOMER.FROZEN' ? 'customer_frozen' : 'data_discrepancy';
  const escalated = decide(
    request,
    { type: 'escalate', by: actor, reason, note: applied.error.message },
    decision,
  );
  if (!escalated.ok) return escalated;
  return ok({
    request: escalated.value.request,
    events: [...transition.events, ...escalated.value.events],
    customerWrite: null,
  });
}

/**
 * Writes one outcome atomically with the caller's transaction: the request (guarded by its version), the
 * customer (guarded by its version), one audit entry per event, one outbox row per connected system.
 */
export async function saveOutcome(
  tx: OutcomeWriter & Pick<Store, 'appendAudit'>,
  outcome: Outcome,
  previousVersion: number | null,
  context: UseCaseContext,
): Promise<Result<ChangeRequest>> {
  // The transition's entries go with the request's write (one statement); what followed from it, after.
  const written = await writeOutcome(tx, outcome, previousVersion, context, 'with the request');
  if (!written.ok) return written;
  await tx.appendAudit(written.value.audit);
  return ok(written.value.request);
}

export type OutcomeWriter = Pick<
  Store,
  'writeChangeRequest' | 'updateChangeRequest' | 'findCustomer' | 'enqueueOutbox' | 'insertNotMeLinks'
>;

/**
 * `saveOutcome` but for the audit entries, which it answers for the caller to append: a caller moving many
 * requests in one transaction appends all of theirs at once. With `'with the request'`, the transition's own
 * entries are written with the request and only those of what followed (a confirmation queued, an escalation)
 * are answered.
 */
export async function writeOutcome(
  tx: OutcomeWriter,
  outcome: Outcome,
  previousVersion: number | null,
  context: UseCaseContext,
  transitionEntries: 'with the request' | 'answered' = 'answered',
): Promise<Result<{ request: ChangeRequest; audit: AuditEntryDraft[] }>> {
  const now = context.clock.now().toISOString();
  let request: ChangeRequest = {
    ...outcome.request,
    version: previousVersion === null ? 1 : previousVersion + 1,
  };
  const { customerWrite } = outcome;
  const transitionDrafts = auditDraftsForEvents(request, outcome.events, context.policy);
  const isWrittenWithRequest = transitionEntries === 'with the request';
  const written = await tx.writeChangeRequest({
    request,
    expectedVersion: previousVersion,
    audit: isWrittenWithRequest ? transitionDrafts : [],
    applied: customerWrite && {
      ...customerWrite,
      messages: propagationMessages(
        request,
        customerWrite.customer,
        context.policy,
        context.calendars.get(request.calendarKey),
      ),
      now,
    },
  });
  if (written === 'request_moved')
    return fail(
      'CHANGE_REQUEST.STALE',
      `Change request ${request.id} changed meanwhile; reload it and try again.`,
    );
  if (written === 'customer_moved')
    return fail(
      'CUSTOMER.VERSION_CONFLICT',
      `Customer ${request.customerId} changed meanwhile; nothing was written.`,
    );
  const drafts = isWrittenWithRequest ? [] : transitionDrafts;
  if (
    request.state === 'consistent' &&
    outcome.events.some((event) => event.type === 'consistency_confirmed')
  ) {
    const customer = outcome.customerWrite?.customer ?? (await tx.findCustomer(request.customerId));
    const queued = customer ? await enqueueConfirmations(tx, request, customer, context) : null;
    if (queued) drafts.push(queued);
    else if (customer) {
      // No address to confirm to: a person must confirm by phone or post, so a human takes it from here.
      const escalated = decide(
        request,
        {
          type: 'escalate',
          by: SYSTEM_ACTOR,
          reason: 'confirmation_undeliverable',
          note: 'No email address on file: confirm the change by phone or post.',
        },
        decisionContext(context),
      );
      if (!escalated.ok) return escalated;
      const saved = { ...escalated.value.request, version: request.version + 1 };
      await tx.updateChangeRequest(saved, request.version);
      drafts.push(...auditDraftsForEvents(saved, escalated.value.events, context.policy));
      request = saved;
    }
  }
  return ok({ request, audit: drafts });
}
