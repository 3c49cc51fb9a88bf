import type { FieldName } from './customer-types.ts';
import { type Policy, SEVERITIES, type Severity } from './policy-types.ts';

/** One thing that happened, as the anomaly rules see it. Built from change-request events. */
export interface Activity {
  readonly at: string;
  /** `applying`: a change about to be written, evaluated again for failures since its intake. */
  readonly kind: 'received' | 'verification_failed' | 'applied' | 'not_me_reported' | 'applying';
  readonly customerId: string;
  readonly changeRequestId: string;
  readonly fields: readonly FieldName[];
  readonly tier: string;
  /** Who or what it came from: `ip:…`, `key:…`, `staff:…`. Empty for system activity. */
  readonly sources: readonly string[];
}

export const ANOMALY_RULES = [
  'many_changes_to_one_customer',
  'one_source_many_customers',
  'sensitive_after_failed_verification',
  'contact_then_payment',
  'not_me_report',
] as const;
export type AnomalyRule = (typeof ANOMALY_RULES)[number];

export interface AnomalyFlagDraft {
  readonly rule: AnomalyRule;
  readonly severity: Severity;
  readonly customerId: string;
  readonly changeRequestId: string;
  /** What the flag is about, for de-duplication: the customer, or the source for a spread across customers. */
  readonly subject: string;
  readonly evidence: Readonly<Record<string, unknown>>;
}

/** What the rules need to know besides the triggering activity: recent history, fetched by the caller. */
export interface AnomalyHistory {
  /** The customer's activity in the longest window any rule looks back, oldest first, including the trigger. */
  readonly customer: readonly Activity[];
  /**
   * Per source of the trigger: how many distinct customers it touched within `oneSourceManyCustomers.windowHours`,
   * the trigger's included (the caller may cap the count at the threshold).
   */
  readonly customersBySource: ReadonlyMap<string, number>;
}

const HOUR_MS = 60 * 60 * 1000;
const CONTACT_FIELDS: ReadonlySet<FieldName> = new Set(['email', 'phone']);
const MONEY_FIELDS: ReadonlySet<FieldName> = new Set(['paymentMethod', 'bankAccount']);

const within = (activity: Activity, trigger: Activity, hours: number) =>
  Date.parse(trigger.at) - Date.parse(activity.at) <= hours * HOUR_MS;

export const isAtLeast = (severity: Severity, threshold: Severity) =>
  SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);

/**
 * The anomaly rules of procedure step 8.2, evaluated as each activity arrives. Pure: history is passed in.
 * Each rule fires at its threshold, not below.
 * @example evaluateAnomalies(receivedActivity, { customer, customersBySource }, policy) // [{ rule: 'contact_then_payment', … }]
 */
export function evaluateAnomalies(
  trigger: Activity,
  history: AnomalyHistory,
  policy: Policy,
): AnomalyFlagDraft[] {
  const rules = policy.anomalyRules;
  const flags: AnomalyFlagDraft[] = [];
  const flag = (rule: AnomalyRule, severity: Severity, subject: string, evidence: Record<string, unknown>) =>
    flags.push({
      rule,
      severity,
      customerId: trigger.customerId,
      changeRequestId: trigger.changeRequestId,
      subject,
      evidence,
    });

  if (trigger.kind === 'received') {
    const recent = history.customer.filter(
      (a) => a.kind === 'received' && within(a, trigger, rules.manyChangesToOneCustomer.windowHours),
    );
    if (recent.length >= rules.manyChangesToOneCustomer.count)
      flag(
        'many_changes_to_one_customer',
        rules.manyChangesToOneCustomer.severity,
        `customer:${trigger.customerId}`,
        {
          changes: recent.length,
          windowHours: rules.manyChangesToOneCustomer.windowHours,
        },
      );

    for (const source of trigger.sources) {
      const touched = history.customersBySource.get(source) ?? 0;
      if (touched >= rules.oneSourceManyCustomers.count)
        flag('one_source_many_customers', rules.oneSourceManyCustomers.severity, source, {
          source,
          customers: touched,
          windowHours: rules.oneSourceManyCustomers.windowHours,
        });
    }

    if (trigger.fields.some((field) => MONEY_FIELDS.has(field))) {
      const contactChange = history.customer.find(
        (a) =>
          a.kind === 'applied' &&
          a.fields.some((field) => CONTACT_FIELDS.has(field)) &&
          within(a, trigger, rules.contactThenPayment.windowDays * 24),
      );
      if (contactChange)
        flag('contact_then_payment', rules.contactThenPayment.severity, `customer:${trigger.customerId}`, {
          contactChangeRequestId: contactChange.changeRequestId,
          contactChangedAt: contactChange.at,
          fields: trigger.fields,
        });
    }
  }

  if (trigger.kind === 'received' || trigger.kind === 'applying') {
    const isSensitive = trigger.tier === 'sensitive' || trigger.tier === 'legal';
    const failures = history.customer.filter(
      (a) =>
        a.kind === 'verification_failed' &&
        within(a, trigger, rules.sensitiveAfterFailedVerification.windowHours),
    );
    if (isSensitive && failures.length > 0)
      flag(
        'sensitive_after_failed_verification',
        rules.sensitiveAfterFailedVerification.severity,
        `customer:${trigger.customerId}`,
        {
          failedVerifications: failures.length,
          fields: trigger.fields,
        },
      );
  }

  if (trigger.kind === 'not_me_reported')
    flag('not_me_report', rules.notMeReport.severity, `customer:${trigger.customerId}`, {
      changeRequestId: trigger.changeRequestId,
    });

  return flags;
}

const sourcesOf = (
  source: { ip: string | null; apiKeyId: string | null; deviceId?: string | null | undefined },
  requester: { kind: string; id: string },
): string[] => [
  ...(source.ip ? [`ip:${source.ip}`] : []),
  ...(source.apiKeyId ? [`key:${source.apiKeyId}`] : []),
  ...(source.deviceId ? [`device:${source.deviceId}`] : []),
  ...(requester.kind === 'staff' ? [`staff:${requester.id}`] : []),
];

/**
 * Reads an activity back from an audit entry of a customer's chain (the history the rules look at), or null
 * for entries the rules do not use.
 */
export function activityFromAuditEntry(entry: {
  occurredAt: string;
  chain: string;
  action: string;
  changeRequestId: string | null;
  actor: { kind: string; id: string };
  details: Readonly<Record<string, unknown>>;
}): Activity | null {
  const details = entry.details as {
    from?: string;
    to?: string;
    tier?: string;
    fields?: FieldName[];
    outcome?: string;
    changes?: { field: FieldName }[];
    source?: { ip: string | null; apiKeyId: string | null; deviceId?: string | null };
  };
  const base = {
    at: entry.occurredAt,
    customerId: entry.chain,
    changeRequestId: entry.changeRequestId ?? '',
    tier: details.tier ?? 'basic',
  };
  switch (entry.action) {
    case 'change_request.received':
      // The first `received` entry of a request (received → received) is the intake; the second is triage.
      if (details.to !== 'received') return null;
      return {
        ...base,
        kind: 'received',
        fields: details.fields ?? [],
        sources: details.source ? sourcesOf(details.source, entry.actor) : [],
      };
    case 'change_request.verification_recorded':
      return details.outcome === 'failed'
        ? { ...base, kind: 'verification_failed', fields: [], sources: [] }
        : null;
    case 'change_request.applied':
      return {
        ...base,
        kind: 'applied',
        fields: (details.changes ?? []).map((change) => change.field),
        sources: [],
      };
    case 'change_request.reported_not_me':
      return { ...base, kind: 'not_me_reported', fields: [], sources: [] };
    default:
      return null;
  }
}

/** The activity a freshly received request brings (before its audit entries are written). */
export function intakeActivity(request: {
  id: string;
  customerId: string;
  createdAt: string;
  tier: string;
  items: readonly { field: FieldName }[];
  source: { ip: string | null; apiKeyId: string | null; deviceId?: string | null | undefined };
  requester: { kind: string; id: string };
}): Activity {
  return {
    at: request.createdAt,
    kind: 'received',
    customerId: request.customerId,
    changeRequestId: request.id,
    fields: request.items.map((item) => item.field),
    tier: request.tier,
    sources: sourcesOf(request.source, request.requester),
  };
}

/** The longest look-back any rule needs, in hours. */
export const anomalyLookBackHours = (policy: Policy): number => {
  const rules = policy.anomalyRules;
  return Math.max(
    rules.manyChangesToOneCustomer.windowHours,
    rules.sensitiveAfterFailedVerification.windowHours,
    rules.contactThenPayment.windowDays * 24,
  );
};
