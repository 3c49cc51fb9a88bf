import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DataKeyFile } from '../adapters/field-cipher.ts';
import type { ImportBatch, PreparedImportBatch, PrepareImportBatch } from '../app/import-customers.ts';

// From the bundle (dist/cli, see bin/bundle.js) the worker is the JavaScript beside it. From the sources (the
// tests), tsx runs its TypeScript: a thread does not inherit the main thread's loader.
const WORKER = import.meta.url.endsWith('.ts')
  ? {
      file: new URL('../../bin/run-ts.js', import.meta.url),
      argv: [new URL('./import-worker.ts', import.meta.url).pathname],
    }
  : { file: new URL('./import-worker.mjs', import.meta.url), argv: [] };

export interface ImportWorkers {
  readonly prepare: PrepareImportBatch;
  close(): Promise<void>;
}

interface Waiting {
  resolve(prepared: PreparedImportBatch): void;
  reject(error: Error): void;
}

/**
 * Worker threads that prepare an import's batches (validation, sealing, hashing: `prepareImportBatch`), one per
 * core up to four. One thread cannot keep up with the database; the main thread keeps to reading and writing.
 * Each batch goes to the thread with the fewest waiting. A thread that dies fails its batches, and so the import.
 */
export function startImportWorkers(
  dataKeys: DataKeyFile,
  count = Math.min(Math.max(availableParallelism(), 1), 4),
): ImportWorkers {
  let nextId = 0;
  const threads = Array.from({ length: count }, () => {
    const waiting = new Map<number, Waiting>();
    const worker = new Worker(WORKER.file, { argv: WORKER.argv, workerData: { dataKeys } });
    const thread: { worker: Worker; waiting: Map<number, Waiting>; stopped?: Error } = { worker, waiting };
    const failAll = (error: Error) => {
      thread.stopped ??= error;
      for (const each of waiting.values()) each.reject(error);
      waiting.clear();
    };
    worker.on('message', (message: { id: number; prepared?: PreparedImportBatch; error?: string }) => {
      const each = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.prepared) each?.resolve(message.prepared);
      else each?.reject(new Error(`An import worker failed on a batch: ${message.error}`));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`An import worker stopped (exit code ${code}).`)));
    return thread;
  });
  return {
    prepare: (batch: ImportBatch) => {
      const thread = threads.reduce((least, each) => (each.waiting.size < least.waiting.size ? each : least));
      const id = nextId++;
      if (thread.stopped) return Promise.reject(thread.stopped);
      return new Promise<PreparedImportBatch>((resolve, reject) => {
        thread.waiting.set(id, { resolve, reject });
        thread.worker.postMessage({ id, batch });
      });
    },
    close: async () => {
      await Promise.all(threads.map(({ worker }) => worker.terminate()));
    },
  };
}
