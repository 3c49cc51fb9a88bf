import type {
  ClaimedOutboxMessage,
  Clock,
  ConnectedSystem,
  DeliveryResult,
  IdSource,
  Store,
} from '../../../app/ports.ts';

/**
 * A connected system without an API: delivering a change opens a task listing the exact values to enter;
 * the change counts as consistent there only when a person attests it (`POST /manual-tasks/{id}/attest`).
 */
export function createManualConnector(
  config: { id: string },
  deps: { store: Pick<Store, 'createManualTask'>; ids: IdSource; clock: Clock },
): ConnectedSystem {
  return {
    id: config.id,
    kind: 'manual',
    confirmation: 'attested',
    async deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult> {
      await deps.store.createManualTask({
        id: deps.ids.newId(),
        outboxId: message.id,
        system: config.id,
        customerId: message.customerId,
        changeRequestId: message.changeRequestId,
        values: (message.payload.fields ?? {}) as Record<string, unknown>,
        now: deps.clock.now().toISOString(),
      });
      return { ok: true };
    },
  };
}
