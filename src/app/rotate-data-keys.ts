import type { SealedRecords, Store } from './ports.ts';

const BATCH = 500;

/** What `amend keys rotate` re-encrypts, in this order: customers first, as processes do at their start. */
export const SEALED_RECORDS: readonly SealedRecords[] = [
  'customer',
  'change_request',
  'outbox',
  'manual_task',
  'staff_user',
];

/**
 * Re-encrypts every row of `records` not yet sealed with the current data key, in batches of short
 * transactions, so the service keeps running. Each pass walks the table once; a row changed meanwhile keeps its
 * new values and is left for the next pass, which starts over for such rows. A pass that seals nothing means
 * every row it saw was changed under it: stop there rather than spin, and report what is left.
 */
export async function resealAll(
  store: Pick<Store, 'resealRecords' | 'countRecordsToReseal'>,
  records: SealedRecords,
  onProgress: (done: number, total: number) => void,
): Promise<{ resealed: number; remaining: number }> {
  const total = await store.countRecordsToReseal(records);
  // The usual case at a process's start: counting is one pass over the table, a walk and a recount two more.
  if (total === 0) return { resealed: 0, remaining: 0 };
  let resealed = 0;
  let resealedThisPass = 0;
  let after: string | null = null;
  for (;;) {
    const batch = await store.resealRecords(records, BATCH, after);
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
  return { resealed, remaining: await store.countRecordsToReseal(records) };
}
