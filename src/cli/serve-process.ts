import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import type { ConnectedSystem } from '../app/ports.ts';
import { sweepChangeRequests } from '../app/sweep-change-requests.ts';
import { writeAuditCheckpoint } from '../app/write-audit-checkpoint.ts';
import { buildServer } from '../server/http-server.ts';
import { loggerOptions } from '../server/logging.ts';
import { isDatabaseReachable } from '../store/store.ts';
import { keepTablesTidy } from '../store/upkeep.ts';
import { createOutboxWorker, type OutboxWorker } from '../worker/outbox-worker.ts';
import type { Runtime } from './runtime.ts';

export interface RunningProcess {
  readonly server: FastifyInstance | null;
  readonly worker: OutboxWorker | null;
  stop(): Promise<void>;
}

const logLine = (level: string) => (event: string, details: Record<string, unknown>) =>
  level !== 'silent' &&
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...details })}\n`);

/**
 * How far past what the last full collection kept V8 may grow the heap before collecting again, in percent. Its
 * own rule grows the heap up to fourfold while allocation is fast: an embedded server delivering about 90
 * changes/s reached 563–790 MB resident, mostly garbage, and 448 MB at 20%; a PostgreSQL server under 32 clients
 * peaked at 332 MB, and 240 MB at 20%, at the same throughput (`npm run bench`). A growth rule, not a cap: a
 * larger live set still fits.
 */
const HEAP_GROWING_PERCENT = 20;

/**
 * Keeps a long-running process's heap near what it uses, once it has started. The growth rule is read by V8 at
 * each full collection, and applies only from the first one: until then the heap may fill to a start-up limit
 * sized from the machine's memory (a server under load first collected at ~140 MB used, 320 MB resident). So
 * one full collection now, which also drops start-up's garbage (migrations, module compilation).
 */
function keepHeapNearLiveSet(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  setFlagsFromString('--no-expose-gc');
}

/**
 * Runs the HTTP API and/or the outbox worker, plus the periodic audit checkpoint, sweep and table upkeep, until
 * stopped. Several such processes may share one PostgreSQL database.
 */
export async function runProcess(
  runtime: Runtime,
  parts: { isServing: boolean; isWorking: boolean; systems: ReadonlyMap<string, ConnectedSystem> },
): Promise<RunningProcess> {
  const { config } = runtime;
  const log = logLine(config.logLevel);
  // The holiday data loads on a calendar's first question: ask it now, not in the first request with a due date.
  for (const calendar of runtime.calendars.values())
    calendar.isHoliday(runtime.clock.now().toISOString().slice(0, 10));
  const worker = parts.isWorking
    ? createOutboxWorker({ ...runtime, systems: parts.systems, log, leaseMs: config.workerLeaseMs })
    : null;
  worker?.start();

  const checkpoint = async () => {
    try {
      const written = await writeAuditCheckpoint({
        store: runtime.store,
        signer: runtime.signer,
        clock: runtime.clock,
      });
      if (written.length > 0)
        log('audit_checkpoint_written', {
          checkpoints: written.map((c) => c.sequence),
          heads: written.reduce((n, c) => n + c.heads.length, 0),
        });
    } catch (error) {
      log('audit_checkpoint_failed', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  const sweep = async () => {
    try {
      const swept = await sweepChangeRequests(runtime);
      if (swept.expired + swept.overdue + swept.idempotentResponsesPruned > 0)
        log('change_requests_swept', swept);
    } catch (error) {
      log('sweep_failed', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  const tidy = async () => {
    try {
      const upkeep = await keepTablesTidy(runtime.database);
      if (upkeep.tables.length > 0) log('tables_tidied', { tables: upkeep.tables });
    } catch (error) {
      log('tidy_failed', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  const timer = parts.isWorking
    ? setInterval(() => {
        void checkpoint();
        void sweep();
        void tidy();
      }, config.checkpointIntervalMs)
    : null;
  timer?.unref();

  let server: FastifyInstance | null = null;
  if (parts.isServing) {
    server = await buildServer(
      {
        ...runtime,
        submissionLimits: config.submissionLimits,
        isDatabaseReachable: () => isDatabaseReachable(runtime.database.db),
      },
      {
        logger: loggerOptions(config.logLevel),
        trustProxy: config.trustProxy,
      },
    );
    await server.listen({ host: config.host, port: config.port });
  }
  keepHeapNearLiveSet();

  return {
    server,
    worker,
    stop: async () => {
      if (timer) clearInterval(timer);
      await server?.close();
      await worker?.stop();
      if (parts.isWorking) await checkpoint();
    },
  };
}

/** Stops cleanly on SIGINT/SIGTERM: finish in-flight requests and deliveries, write a last checkpoint. */
export function stopOnSignal(stop: () => Promise<void>): void {
  let isStopping = false;
  const handler = () => {
    if (isStopping) process.exit(130);
    isStopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
