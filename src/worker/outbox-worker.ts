import { randomUUID } from 'node:crypto';
import { markConsistentIfDelivered } from '../app/mark-change-request-consistent.ts';
import type { ClaimedOutboxMessage, ConnectedSystem, Store, UseCaseContext } from '../app/ports.ts';
import { DEFAULT_RETRY_POLICY, nextRetryAt, type RetryPolicy } from '../core/retry-fns.ts';

export interface OutboxWorkerOptions extends UseCaseContext {
  readonly store: Store;
  readonly systems: ReadonlyMap<string, ConnectedSystem>;
  readonly retry?: RetryPolicy;
  readonly batchSize?: number;
  /** A claimed message not finished within this time is claimable again (its worker is presumed dead). */
  readonly leaseMs?: number;
  /** How long to sleep when the queue is empty. */
  readonly idleMs?: number;
  readonly log?: (event: string, details: Record<string, unknown>) => void;
}

export interface OutboxWorker {
  /** Claims and delivers one batch; answers how many messages it handled. */
  runOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Delivers outbox messages to connected systems, at least once, in order per customer and system, retrying
 * with backoff and jitter up to the horizon, then dead-lettering. Safe to run in several processes at once.
 */
export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const owner = `worker-${randomUUID()}`;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const batchSize = options.batchSize ?? 50;
  const leaseMs = options.leaseMs ?? 60_000;
  const idleMs = options.idleMs ?? 250;
  const log = options.log ?? (() => {});
  let isRunning = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  async function deliver(message: ClaimedOutboxMessage): Promise<void> {
    const system = options.systems.get(message.destination);
    const result = system
      ? await system
          .deliver(message)
          .catch((error: unknown) => ({ ok: false as const, error: errorText(error), isPermanent: false }))
      : {
          ok: false as const,
          error: `No connected system "${message.destination}" is configured.`,
          isPermanent: false,
        };
    const now = options.clock.now().toISOString();
    if (result.ok) {
      if (!(await options.store.markOutboxDelivered(message.id, owner, now))) return;
      if (message.changeRequestId) {
        const consistent = await markConsistentIfDelivered(options, message.changeRequestId);
        if (!consistent.ok && consistent.error.code !== 'CHANGE_REQUEST.ILLEGAL_TRANSITION')
          log('consistency_check_failed', {
            changeRequestId: message.changeRequestId,
            code: consistent.error.code,
          });
      }
      return;
    }
    const retryAt = nextRetryAt(
      {
        attempts: message.attempts,
        createdAt: message.createdAt,
        now,
        random: Math.random(),
        isPermanent: result.isPermanent,
      },
      retry,
    );
    await options.store.markOutboxFailed(message.id, owner, { error: result.error, retryAt });
    log(retryAt ? 'delivery_retry_scheduled' : 'delivery_dead_lettered', {
      outboxId: message.id,
      destination: message.destination,
      attempts: message.attempts,
      retryAt,
    });
  }

  async function runOnce(): Promise<number> {
    const claimed = await options.store.claimOutbox({
      owner,
      limit: batchSize,
      now: options.clock.now().toISOString(),
      leaseMs,
    });
    // One message per (customer, system) is claimable at a time, so these may all run at once.
    await Promise.all(claimed.map(deliver));
    return claimed.length;
  }

  return {
    runOnce,
    start() {
      if (isRunning) return;
      isRunning = true;
      loop = (async () => {
        while (isRunning) {
          let handled = 0;
          try {
            handled = await runOnce();
          } catch (error) {
            log('worker_batch_failed', { error: errorText(error) });
          }
          if (handled === 0 && isRunning)
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, idleMs);
            });
        }
      })();
    },
    async stop() {
      isRunning = false;
      wake?.();
      await loop;
    },
  };
}

const errorText = (error: unknown): string =>
  (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);
