// One import worker thread (see import-workers.ts): prepares the batches the main thread hands it.
import { parentPort, workerData } from 'node:worker_threads';
import { sha256Hex } from '../adapters/audit-signer.ts';
import { createFieldCipher, type DataKeyFile } from '../adapters/field-cipher.ts';
import { systemClock, uuidV7Ids } from '../adapters/system-clock.ts';
import { type ImportBatch, prepareImportBatch } from '../app/import-customers.ts';
import { encodeNewCustomers } from '../store/customer-repo.ts';

const cipher = createFieldCipher((workerData as { dataKeys: DataKeyFile }).dataKeys);
const deps: Parameters<typeof prepareImportBatch>[1] = {
  clock: systemClock,
  ids: uuidV7Ids,
  encode: (customers, entries) => encodeNewCustomers(customers, entries, cipher, sha256Hex),
};

parentPort!.on('message', ({ id, batch }: { id: number; batch: ImportBatch }) => {
  try {
    parentPort!.postMessage({ id, prepared: prepareImportBatch(batch, deps) });
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
