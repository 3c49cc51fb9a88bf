import { type Activity, anomalyLookBackHours, evaluateAnomalies } from '../core/anomaly-fns.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { AnomalyFlag, Store, UseCaseContext } from './ports.ts';

const HOUR_MS = 60 * 60 * 1000;

/**
 * Evaluates the anomaly rules on an activity as it arrives (procedure step 8.2), inside the caller's
 * transaction and before the change can be applied, so a high-severity flag can hold the very request that
 * raised it. New flags are audited on the customer's chain.
 */
export async function raiseAnomalies(
  tx: Pick<Store, 'customerActivity' | 'touchSourcesAndCount' | 'recordAnomalyFlags' | 'appendAudit'>,
  activity: Activity,
  context: UseCaseContext,
): Promise<AnomalyFlag[]> {
  const now = context.clock.now();
  const rules = context.policy.anomalyRules;
  const history = await tx.customerActivity(
    activity.customerId,
    new Date(now.getTime() - anomalyLookBackHours(context.policy) * HOUR_MS).toISOString(),
  );
  // Only an intake touches a customer; its own touch is recorded first, so the count includes it.
  const sources = activity.kind === 'received' ? activity.sources : [];
  const bySource = await tx.touchSourcesAndCount(
    sources,
    activity.customerId,
    activity.at,
    new Date(now.getTime() - rules.oneSourceManyCustomers.windowHours * HOUR_MS).toISOString(),
    rules.oneSourceManyCustomers.count,
  );
  const drafts = evaluateAnomalies(
    activity,
    { customer: [...history, activity], customersBySource: bySource },
    context.policy,
  );
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
  return raised;
}
