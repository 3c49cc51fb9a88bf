import type { AuditEntryDraft } from './audit-types.ts';
import type { Actor, ChangeRequest, ChangeRequestEvent } from './change-request-types.ts';
import type { FieldName } from './customer-types.ts';
import { isMaskedField, maskFieldValue } from './masking-fns.ts';
import type { Policy } from './policy-types.ts';

const shown = (policy: Policy, field: FieldName, value: unknown): unknown =>
  isMaskedField(policy, field) ? maskFieldValue(field, value) : (value ?? null);

/**
 * A sensitive value in full, for the store to encrypt (`$seal` is replaced by `$sealed` ciphertext before the
 * entry is hashed): readers see the mask; an auditor can open the full value, and that read is audited too.
 */
const sealedValues = (policy: Policy, field: FieldName, values: Record<string, unknown>) =>
  isMaskedField(policy, field) ? { sealed: { $seal: values } } : {};

/**
 * One audit entry per event, on the customer's chain. Sensitive and legal values are masked (and kept encrypted beside the mask); the entry of an
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
          ...sealedValues(policy, change.field, { old: change.old ?? null, new: change.new ?? null }),
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
        ...sealedValues(policy, item.field, { new: item.proposed ?? null }),
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

/** An audit entry about no change request: a sign-in, a read of personal data, a key revoked. */
export const recordEntry = (
  chain: string,
  action: string,
  at: string,
  actor: Actor,
  details: Readonly<Record<string, unknown>> = {},
): AuditEntryDraft => ({ chain, occurredAt: at, actor, action, changeRequestId: null, details });
