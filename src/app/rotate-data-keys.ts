import type { Store } from './ports.ts';

const BATCH = 500;

/**
 * Re-encrypts every customer not yet sealed with the current data key, in batches of short transactions, so
 * the service keeps running. Each pass walks the table once; a row changed meanwhile keeps its new values and is
 * left for the next pass, which starts over for such rows. A pass that seals nothing means every row it saw was
 * changed under it: stop there rather than spin, and report what is left.
 */
export async function resealAllCustomers(
  store: Pick<Store, 'resealCustomers' | 'countCustomersToReseal'>,
  onProgress: (done: number, total: number) => void,
): Promise<{ resealed: number; remaining: number }> {
  const total = await store.countCustomersToReseal();
  // The usual case at a process's start: counting is one pass over the table, a walk and a recount two more.
  if (total === 0) return { resealed: 0, remaining: 0 };
  let resealed = 0;
  let resealedThisPass = 0;
  let after: string | null = null;
  for (;;) {
    const batch = await store.resealCustomers(BATCH, after);
    resealed += batch.resealed;
    resealedThisPass += batch.resealed;
    if (batch.examined > 0) onProgress(resealed, total);
    if (batch.last !== null) {
      after = batch.last;
      continue;
    }
    if (after === null || resealedThisPass === 0) break;
    after = null;
    resealedThisPass = 0;
  }
  return { resealed, remaining: await store.countCustomersToReseal() };
}
