import type { AuditEntryDraft } from '../core/audit-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { maskFieldValue } from '../core/masking-fns.ts';
import type { ClaimedOutboxMessage, Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

type ConfirmationDeps = Deps & { readonly store: Pick<Store, 'transaction'> };

/**
 * The mail server accepted these confirmations (a worker's batch): marks their outbox messages delivered and
 * audits the sending in one transaction, so a worker that dies in between leaves neither (the mail is sent
 * again) rather than a confirmation sent and never audited. A message whose lease this worker lost meanwhile is
 * left to the worker that holds it now. Answers the ids marked.
 */
export async function recordConfirmationsSent(
  deps: ConfirmationDeps,
  owner: string,
  sent: readonly { message: ClaimedOutboxMessage; messageId: string }[],
): Promise<Set<number>> {
  if (sent.length === 0) return new Set();
  const at = deps.clock.now().toISOString();
  return deps.store.transaction(async (tx) => {
    const marked = await tx.markOutboxDelivered(
      owner,
      sent.map(({ message }) => ({ id: message.id, at, confirmation: 'acknowledged' as const })),
    );
    await tx.appendAudit(
      sent
        .filter(({ message }) => marked.has(message.id))
        .map(({ message, messageId }) => outcomeEntry(message, at, { isSent: true, detail: messageId })),
    );
    return marked;
  });
}

/**
 * A confirmation that cannot be delivered (dead-lettered): audited, and the request escalated, since the
 * customer was not told.
 */
export async function recordConfirmationUndeliverable(
  deps: ConfirmationDeps,
  message: ClaimedOutboxMessage,
  error: string,
): Promise<void> {
  const at = deps.clock.now().toISOString();
  await deps.store.transaction((tx) =>
    tx.appendAudit([outcomeEntry(message, at, { isSent: false, detail: error })]),
  );
  if (!message.changeRequestId) return;
  const to = maskFieldValue('email', (message.payload as { to: string }).to);
  await runChangeRequestCommand(deps, message.changeRequestId, SYSTEM_ACTOR, () => ({
    type: 'escalate',
    by: SYSTEM_ACTOR,
    reason: 'confirmation_undeliverable',
    note: `The confirmation to ${to} could not be delivered (${error}); confirm the change another way.`,
  }));
}

function outcomeEntry(
  message: ClaimedOutboxMessage,
  occurredAt: string,
  outcome: { isSent: boolean; detail: string },
): AuditEntryDraft {
  return {
    chain: message.customerId,
    occurredAt,
    actor: SYSTEM_ACTOR,
    action: outcome.isSent ? 'confirmation.sent' : 'confirmation.failed',
    changeRequestId: message.changeRequestId,
    details: {
      to: maskFieldValue('email', (message.payload as { to: string }).to),
      role: (message.payload as { role: string }).role,
      outboxId: message.id,
      ...(outcome.isSent ? { messageId: outcome.detail } : { error: outcome.detail }),
    },
  };
}
