import type { ChangeRequest } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import type { Store } from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Moves a propagating request to `consistent` once every connected system has acknowledged it.
 * Answers null while deliveries are outstanding.
 */
export async function markConsistentIfDelivered(
  deps: Deps & {
    readonly store: Pick<Store, 'transaction' | 'outboxForChangeRequest' | 'findChangeRequest'>;
  },
  changeRequestId: string,
): Promise<Result<ChangeRequest | null>> {
  const deliveries = await deps.store.outboxForChangeRequest(changeRequestId);
  if (deliveries.some((delivery) => delivery.status !== 'delivered')) return ok(null);
  const request = await deps.store.findChangeRequest(changeRequestId);
  if (request?.state !== 'propagating') return ok(null);
  return runChangeRequestCommand(deps, changeRequestId, { kind: 'system', id: 'amend', role: null }, () => ({
    type: 'mark_consistent',
  }));
}
