import type { Store } from './ports.ts';

const BATCH = 500;

/**
 * Re-encrypts every customer not yet sealed with the current data key, in batches of short transactions, so
 * the service keeps running: a row changed meanwhile keeps its new values and is picked up by a later batch.
 */
export async function resealAllCustomers(
  store: Pick<Store, 'resealCustomers' | 'countCustomersToReseal'>,
  onProgress: (done: number, total: number) => void,
): Promise<{ resealed: number; remaining: number }> {
  const total = await store.countCustomersToReseal();
  let resealed = 0;
  let idleBatches = 0;
  // A batch that seals nothing means every row it saw was changed under it; give up after a few such rounds
  // rather than spin, and report what is left.
  while (idleBatches < 3) {
    const batch = await store.resealCustomers(BATCH);
    if (batch.examined === 0) break;
    resealed += batch.resealed;
    idleBatches = batch.resealed === 0 ? idleBatches + 1 : 0;
    onProgress(resealed, total);
  }
  return { resealed, remaining: await store.countCustomersToReseal() };
}
