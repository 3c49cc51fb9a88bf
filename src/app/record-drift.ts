import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { ClaimedOutboxMessage, Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * A read-back found values other than those sent (procedure step 5.3). The drift is audited; the change is
 * pushed again; after `isFinal` (repeated drift) the request is escalated as a data discrepancy.
 */
export async function recordDrift(
  deps: Deps & { readonly store: Pick<Store, 'transaction'> },
  message: ClaimedOutboxMessage,
  paths: readonly string[],
  isFinal: boolean,
): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.appendAudit([
      {
        chain: message.customerId,
        occurredAt: deps.clock.now().toISOString(),
        actor: SYSTEM_ACTOR,
        action: 'propagation.drift_detected',
        changeRequestId: message.changeRequestId,
        // Which values differ, never the values themselves.
        details: {
          system: message.destination,
          paths,
          outboxId: message.id,
          driftCount: message.driftCount + 1,
          action: isFinal ? 'escalated' : 'pushed_again',
        },
      },
    ]),
  );
  if (isFinal && message.changeRequestId) {
    await runChangeRequestCommand(deps, message.changeRequestId, SYSTEM_ACTOR, () => ({
      type: 'escalate',
      by: SYSTEM_ACTOR,
      reason: 'data_discrepancy',
      note: `${message.destination} still holds other values for ${paths.join(', ')} after ${message.driftCount + 1} attempts.`,
    }));
  }
}
