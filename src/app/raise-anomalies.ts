import { type Activity, anomalyLookBackHours, evaluateAnomalies } from '../core/anomaly-fns.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { AnomalyFlag, Store, UseCaseContext } from './ports.ts';

const HOUR_MS = 60 * 60 * 1000;

const flagKey = (flag: { rule: string; subject: string }) => `${flag.rule}\u0000${flag.subject}`;

/**
 * Evaluates the anomaly rules on an activity as it arrives (procedure step 8.2), inside the caller's
 * transaction and before the change can be applied, so a high-severity flag can hold the very request that
 * raised it. New flags are audited on the customer's chain. Answers every open flag on the customer now, the
 * new ones included: what a change about to be applied must heed.
 */
export async function raiseAnomalies(
  tx: Pick<Store, 'anomalyHistory' | 'recordAnomalyFlags' | 'appendAudit'>,
  activity: Activity,
  context: UseCaseContext,
): Promise<AnomalyFlag[]> {
  const now = context.clock.now();
  const rules = context.policy.anomalyRules;
  const hoursAgo = (hours: number) => new Date(now.getTime() - hours * HOUR_MS).toISOString();
  // Only an intake touches a customer; its own touch is recorded first, so the count includes it.
  const history = await tx.anomalyHistory({
    customerId: activity.customerId,
    since: hoursAgo(anomalyLookBackHours(context.policy)),
    touch: {
      sources: activity.kind === 'received' ? activity.sources : [],
      at: activity.at,
      since: hoursAgo(rules.oneSourceManyCustomers.windowHours),
      cap: rules.oneSourceManyCustomers.count,
    },
  });
  const alreadyOpen = new Set(history.openFlags.map(flagKey));
  // A flag already open for the same rule and subject is not raised again (the insert would skip it anyway).
  const drafts = evaluateAnomalies(
    activity,
    { customer: [...history.activity, activity], customersBySource: history.customersBySource },
    context.policy,
  ).filter((draft) => !alreadyOpen.has(flagKey(draft)));
  const raised = await tx.recordAnomalyFlags(
    drafts.map((draft) => ({
      ...draft,
      id: context.ids.newId(),
      status: 'open',
      raisedAt: now.toISOString(),
      reviewedBy: null,
      reviewedAt: null,
      reviewReason: null,
    })),
  );
  await tx.appendAudit(
    raised.map((flag) => ({
      chain: flag.customerId,
      occurredAt: flag.raisedAt,
      actor: SYSTEM_ACTOR,
      action: 'anomaly.flagged',
      changeRequestId: flag.changeRequestId || null,
      details: {
        flagId: flag.id,
        rule: flag.rule,
        severity: flag.severity,
        subject: flag.subject,
        evidence: flag.evidence,
      },
    })),
  );
  return [...history.openFlags, ...raised].filter((flag) => flag.customerId === activity.customerId);
}
