import { type BusinessCalendar, businessDeadline } from './business-day-fns.ts';
import type { ChangeRequest } from './change-request-types.ts';
import { isConsentWithdrawal } from './consistency-fns.ts';
import type { Customer, FieldName } from './customer-types.ts';
import type { Policy } from './policy-types.ts';

export interface PropagationMessage {
  readonly kind: 'propagation';
  readonly destination: string;
  readonly customerId: string;
  readonly changeRequestId: string;
  readonly sequence: number;
  readonly payload: Record<string, unknown>;
  /** The legal deadline for this delivery (a withdrawn consent to a marketing system), if any. */
  readonly deadlineAt: string | null;
}

/**
 * One message per connected system holding a changed field, carrying only the fields that system holds,
 * with the values as now on the record. `sequence` is the customer's new version: increasing per customer.
 */
export function propagationMessages(
  request: ChangeRequest,
  customer: Customer,
  policy: Policy,
  calendar?: BusinessCalendar,
): PropagationMessage[] {
  const withdrawsConsent = request.items.some(
    (item) => item.field === 'communicationPreferences' && isConsentWithdrawal(item.previous, item.proposed),
  );
  const optOutDeadline =
    withdrawsConsent && calendar && request.appliedAt
      ? businessDeadline(request.appliedAt, policy.optOutDeadline.businessDays, calendar)
      : null;
  return request.connectedSystems.map((system) => {
    const fields = request.items
      .map((item) => item.field)
      .filter((field) => policy.fields[field].connectedSystems.includes(system));
    const values = Object.fromEntries(fields.map((field: FieldName) => [field, customer[field]]));
    return {
      kind: 'propagation',
      destination: system,
      customerId: customer.id,
      changeRequestId: request.id,
      sequence: customer.version,
      payload: {
        changeId: request.id,
        customerId: customer.id,
        sequence: customer.version,
        fields: values,
        occurredAt: request.appliedAt,
      },
      deadlineAt: policy.optOutDeadline.systems.includes(system) ? optOutDeadline : null,
    };
  });
}
