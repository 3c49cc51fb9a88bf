import type { AuditEntryDraft } from '../core/audit-types.ts';
import type { ChangeRequest } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { confirmationRecipients, localeFor, renderConfirmation } from '../core/confirmation-fns.ts';
import type { Customer } from '../core/customer-types.ts';
import { maskFieldValue } from '../core/masking-fns.ts';
import type { Store, UseCaseContext } from './ports.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Queues the confirmation of a change that reached every connected system (procedure step 6), in the
 * transaction that made it consistent: one mail per recipient (old and new address on an email change), each
 * with its own signed, single-use "this wasn't me" link. Answers the `confirmation.queued` audit entry, which
 * the caller appends with the transition's own entries (one append, one lock of the chain head), or null when
 * there is no address on file to confirm to.
 */
export async function enqueueConfirmations(
  tx: Pick<Store, 'insertNotMeLinks' | 'enqueueOutbox'>,
  request: ChangeRequest,
  customer: Customer,
  context: UseCaseContext,
): Promise<AuditEntryDraft | null> {
  const recipients = confirmationRecipients(request, customer);
  if (recipients.length === 0) return null;
  const now = context.clock.now();
  const expiresAt = new Date(now.getTime() + context.confirmations.linkLifetimeDays * DAY_MS).toISOString();
  const timeZone = context.policy.approvalSla.calendars[request.calendarKey]?.timeZone ?? 'UTC';
  const messages = [];
  const links = [];
  for (const recipient of recipients) {
    const linkId = context.ids.newId();
    links.push({
      id: linkId,
      changeRequestId: request.id,
      customerId: customer.id,
      now: now.toISOString(),
      expiresAt,
    });
    const rendered = renderConfirmation({
      request,
      customer,
      recipient,
      locale: localeFor(customer.postalAddress?.country),
      timeZone,
      notMeUrl: `${context.confirmations.publicBaseUrl}/not-me/${context.confirmations.linkSigner.sign(linkId)}`,
      notMeLifetimeDays: context.confirmations.linkLifetimeDays,
      support: context.confirmations.support,
    });
    messages.push({
      kind: 'confirmation' as const,
      destination: 'mail',
      customerId: customer.id,
      changeRequestId: request.id,
      sequence: customer.version,
      payload: { to: recipient.address, role: recipient.role, linkId, ...rendered },
      deadlineAt: null,
    });
  }
  await tx.insertNotMeLinks(links);
  await tx.enqueueOutbox(messages, now.toISOString());
  return {
    chain: customer.id,
    occurredAt: now.toISOString(),
    actor: SYSTEM_ACTOR,
    action: 'confirmation.queued',
    changeRequestId: request.id,
    details: {
      recipients: recipients.map((r) => ({ to: maskFieldValue('email', r.address), role: r.role })),
      linkExpiresAt: expiresAt,
    },
  };
}
