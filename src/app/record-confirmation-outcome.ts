import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { maskFieldValue } from '../core/masking-fns.ts';
import type { ClaimedOutboxMessage, Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Records on the request's audit trail that a confirmation was accepted by the mail server, or that it could
 * not be delivered; an undeliverable confirmation escalates the request, since the customer was not told.
 */
export async function recordConfirmationOutcome(
  deps: Deps & { readonly store: Pick<Store, 'transaction'> },
  message: ClaimedOutboxMessage,
  outcome: { isSent: boolean; detail: string },
): Promise<void> {
  const to = maskFieldValue('email', (message.payload as { to: string }).to);
  const role = (message.payload as { role: string }).role;
  await deps.store.transaction((tx) =>
    tx.appendAudit([
      {
        chain: message.customerId,
        occurredAt: deps.clock.now().toISOString(),
        actor: SYSTEM_ACTOR,
        action: outcome.isSent ? 'confirmation.sent' : 'confirmation.failed',
        changeRequestId: message.changeRequestId,
        details: {
          to,
          role,
          outboxId: message.id,
          ...(outcome.isSent ? { messageId: outcome.detail } : { error: outcome.detail }),
        },
      },
    ]),
  );
  if (!outcome.isSent && message.changeRequestId) {
    await runChangeRequestCommand(deps, message.changeRequestId, SYSTEM_ACTOR, () => ({
      type: 'escalate',
      by: SYSTEM_ACTOR,
      reason: 'confirmation_undeliverable',
      note: `The confirmation to ${to} could not be delivered (${outcome.detail}); confirm the change another way.`,
    }));
  }
}
