import type { Result } from '../core/result.ts';
import type { Store } from './ports.ts';

class Rollback {
  constructor(readonly result: Result<never>) {}
}

/**
 * Runs `work` in one transaction and rolls it back if the work answers a failed result, so a refused
 * command leaves nothing behind (not even a claimed idempotency key).
 */
export async function inTransaction<T>(
  store: Pick<Store, 'transaction'>,
  work: (tx: Store) => Promise<Result<T>>,
): Promise<Result<T>> {
  try {
    return await store.transaction(async (tx) => {
      const result = await work(tx);
      if (!result.ok) throw new Rollback(result);
      return result;
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result;
    throw error;
  }
}
