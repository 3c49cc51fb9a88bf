import type { AuditEntryDraft } from './audit-types.ts';
import type { ChangeRequest, ChangeRequestEvent } from './change-request-types.ts';
import type { FieldName } from './customer-types.ts';
import { maskFieldValue } from './masking-fns.ts';
import type { Policy } from './policy-types.ts';

const isMasked = (policy: Policy, field: FieldName): boolean => {
  const tier = policy.fields[field].tier;
  return tier === 'sensitive' || tier === 'legal';
};

const shown = (policy: Policy, field: FieldName, value: unknown): unknown =>
  isMasked(policy, field) ? maskFieldValue(field, value) : (value ?? null);

/**
 * One audit entry per event, on the customer's chain. Sensitive and legal values are masked; the entry of an
 * `applied` event carries old → new per field and the authorisation (who verified, who approved, why).
 */
export function auditDraftsForEvents(
  request: ChangeRequest,
  events: readonly ChangeRequestEvent[],
  policy: Policy,
): AuditEntryDraft[] {
  return events.map((event) => {
    const details: Record<string, unknown> = {
      from: event.from,
      to: event.to,
      tier: request.tier,
      revision: request.revision,
    };
    for (const [key, value] of Object.entries(event.details)) {
      if (key === 'changes') {
        details.changes = (value as { field: FieldName; old: unknown; new: unknown }[]).map((change) => ({
          field: change.field,
          old: shown(policy, change.field, change.old),
          new: shown(policy, change.field, change.new),
        }));
      } else if (key === 'evidence') {
        const evidence = { ...(value as Record<string, unknown>) };
        if (typeof evidence.destination === 'string')
          evidence.destination = maskFieldValue(
            evidence.destination.includes('@') ? 'email' : 'phone',
            evidence.destination,
          );
        details.evidence = evidence;
      } else {
        details[key] = value;
      }
    }
    if (event.type === 'received') {
      details.proposed = request.items.map((item) => ({
        field: item.field,
        new: shown(policy, item.field, item.proposed),
      }));
      details.reason = request.reason;
      details.source = request.source;
    }
    return {
      chain: request.customerId,
      occurredAt: event.at,
      actor: event.actor,
      action: `change_request.${event.type}`,
      changeRequestId: request.id,
      details,
    };
  });
}
