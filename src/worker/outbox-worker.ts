import { randomUUID } from 'node:crypto';
import { advance, advanceAll } from '../app/confirm-consistency.ts';
import type {
  ClaimedOutboxMessage,
  ConnectedSystem,
  MailSender,
  OutboxDelivery,
  Store,
  UseCaseContext,
  WaitingRequest,
} from '../app/ports.ts';
import {
  recordConfirmationsSent,
  recordConfirmationUndeliverable,
} from '../app/record-confirmation-outcome.ts';
import { recordDrift } from '../app/record-drift.ts';
import { driftedPaths } from '../core/consistency-fns.ts';
import { DEFAULT_RETRY_POLICY, nextRetryAt, type RetryPolicy } from '../core/retry-fns.ts';

/** Read-backs that may disagree before the request is escalated instead of pushed again. */
export const MAX_DRIFT_ATTEMPTS = 3;
/** How often an asynchronous system is read back again while it may still be applying a delivery. */
const READ_BACK_SETTLE_POLL_MS = 50;

export interface OutboxWorkerOptions extends UseCaseContext {
  readonly store: Store;
  readonly systems: ReadonlyMap<string, ConnectedSystem>;
  /** Sends the confirmations (outbox kind `confirmation`). */
  readonly mailer: MailSender;
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
  /** Moves on requests whose deliveries are all confirmed but which a dead worker left behind. */
  sweepStranded(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

/** A request whose deliveries of `kind` may now all be confirmed, so it may move on. */
type FollowUp = WaitingRequest;

/**
 * What handling one message leaves to the end of the batch: a delivery to mark (all of a batch's in one
 * statement) and the request that may move on once it is marked.
 */
interface Handled {
  readonly delivered: OutboxDelivery | null;
  /** A confirmation the mail server accepted: marked and audited with the rest of the batch's. */
  readonly sent?: { readonly message: ClaimedOutboxMessage; readonly messageId: string };
  readonly followUp: FollowUp | null;
}

type Outcome =
  | { kind: 'confirmed' }
  | { kind: 'delivered' }
  | { kind: 'failed'; error: string; isPermanent: boolean }
  | { kind: 'drift'; paths: string[] };

/**
 * Delivers outbox messages to connected systems, at least once, in order per customer and system, retrying
 * with backoff and jitter up to the horizon, then dead-lettering. Where a system can be read back, the
 * worker reads it back while still holding the lease (so a later change cannot be mistaken for drift) and
 * confirms only what it saw. Safe to run in several processes at once.
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

  /** When to try `message` again after a failure, or null to dead-letter it. */
  const nextAttemptAt = (message: ClaimedOutboxMessage, now: string, isPermanent: boolean) =>
    nextRetryAt(
      { attempts: message.attempts, createdAt: message.createdAt, now, random: Math.random(), isPermanent },
      retry,
    );

  async function attempt(message: ClaimedOutboxMessage): Promise<Outcome> {
    const system = options.systems.get(message.destination);
    if (!system)
      return {
        kind: 'failed',
        error: `No connected system "${message.destination}" is configured.`,
        isPermanent: false,
      };
    const delivered = await system
      .deliver(message)
      .catch((error: unknown) => ({ ok: false as const, error: errorText(error), isPermanent: false }));
    if (!delivered.ok) return { kind: 'failed', error: delivered.error, isPermanent: delivered.isPermanent };
    if (!system.readBack)
      return system.confirmation === 'acknowledged' ? { kind: 'confirmed' } : { kind: 'delivered' };
    const settleBy = performance.now() + (system.readBackSettleMs ?? 0);
    for (;;) {
      const observed = await system.readBack(message.customerId);
      if (!observed.ok) return { kind: 'failed', error: observed.error, isPermanent: false };
      const paths = driftedPaths((message.payload.fields ?? {}) as Record<string, unknown>, observed.values);
      if (paths.length === 0) return { kind: 'confirmed' };
      if (performance.now() >= settleBy) return { kind: 'drift', paths };
      await new Promise((resolve) => setTimeout(resolve, READ_BACK_SETTLE_POLL_MS));
    }
  }

  /**
   * A confirmation mail: accepted by the mail server (recorded with the batch's), or retried, or, once it
   * cannot be, escalated.
   */
  async function handleConfirmation(message: ClaimedOutboxMessage): Promise<Handled | null> {
    const payload = message.payload as {
      to: string;
      subject: string;
      text: string;
      html: string;
      role: string;
    };
    const sent = await options.mailer
      .send({
        to: payload.to,
        subject: payload.subject,
        text: payload.text,
        html: payload.html,
        changeRequestId: message.changeRequestId,
      })
      .catch((error: unknown) => ({ ok: false as const, error: errorText(error), isPermanent: false }));
    if (sent.ok)
      return {
        delivered: null,
        sent: { message, messageId: sent.messageId },
        followUp: message.changeRequestId
          ? { kind: 'confirmation', changeRequestId: message.changeRequestId }
          : null,
      };
    const retryAt = nextAttemptAt(message, options.clock.now().toISOString(), sent.isPermanent);
    if (!(await options.store.markOutboxFailed(message.id, owner, { error: sent.error, retryAt })))
      return null;
    if (!retryAt) await recordConfirmationUndeliverable(options, message, sent.error);
    return null;
  }

  /** Delivers one message and records a failed outcome; a success is marked with the rest of the batch. */
  async function handle(message: ClaimedOutboxMessage): Promise<Handled | null> {
    if (message.kind === 'confirmation') return handleConfirmation(message);
    const outcome = await attempt(message);
    const now = options.clock.now().toISOString();
    if (outcome.kind === 'confirmed' || outcome.kind === 'delivered') {
      const system = options.systems.get(message.destination);
      const confirmation =
        outcome.kind === 'confirmed'
          ? system?.confirmation === 'acknowledged'
            ? 'acknowledged'
            : 'read_back'
          : null;
      return {
        delivered: { id: message.id, at: now, confirmation },
        followUp:
          confirmation && message.changeRequestId
            ? { kind: 'propagation', changeRequestId: message.changeRequestId }
            : null,
      };
    }
    if (outcome.kind === 'drift') {
      const isFinal = message.driftCount + 1 >= MAX_DRIFT_ATTEMPTS;
      const retryAt = isFinal ? null : nextAttemptAt(message, now, false);
      const error = `${message.destination}: read-back differs in ${outcome.paths.join(', ')}`;
      if (!(await options.store.markOutboxFailed(message.id, owner, { error, retryAt, isDrift: true })))
        return null;
      await recordDrift(options, message, outcome.paths, isFinal || retryAt === null);
      log('drift_detected', {
        outboxId: message.id,
        destination: message.destination,
        paths: outcome.paths,
        isFinal,
      });
      return null;
    }
    const retryAt = nextAttemptAt(message, now, outcome.isPermanent);
    await options.store.markOutboxFailed(message.id, owner, { error: outcome.error, retryAt });
    log(retryAt ? 'delivery_retry_scheduled' : 'delivery_dead_lettered', {
      outboxId: message.id,
      destination: message.destination,
      attempts: message.attempts,
      retryAt,
    });
    return null;
  }

  /** Moves a request on whose deliveries of a kind are all confirmed. */
  async function followUp({ kind, changeRequestId }: FollowUp): Promise<void> {
    try {
      const advanced = await advance(options, { changeRequestId, kind });
      if (!advanced.ok) log('consistency_check_failed', { changeRequestId, kind, code: advanced.error.code });
    } catch (error) {
      log('consistency_check_failed', { changeRequestId, kind, error: errorText(error) });
    }
  }

  /**
   * Moves on a batch's requests whose deliveries of a kind are all confirmed, in one transaction; should that
   * fail, each on its own, so one request's trouble does not hold up the rest. Never rejects.
   */
  async function moveOn(ready: readonly FollowUp[]): Promise<void> {
    if (ready.length === 0) return;
    try {
      await advanceAll(options, ready);
    } catch (error) {
      log('consistency_batch_failed', { count: ready.length, error: errorText(error) });
      await Promise.all(ready.map(followUp));
    }
  }

  /** Moves on requests a dead worker left behind (see `strandedChangeRequests`). */
  async function sweepStranded(): Promise<number> {
    const before = new Date(options.clock.now().getTime() - leaseMs).toISOString();
    const stranded = await options.store.strandedChangeRequests(before, batchSize);
    await moveOn(stranded);
    return stranded.length;
  }

  /**
   * Claims and delivers one batch and marks it; answers how many messages it claimed and the follow-ups it
   * started (moving on the requests now fully confirmed), which never reject.
   */
  async function deliverBatch(): Promise<{ claimed: number; followUps: Promise<void> }> {
    const claimed = await options.store.claimOutbox({
      owner,
      limit: batchSize,
      now: options.clock.now().toISOString(),
      leaseMs,
    });
    // One message per (customer, system) is claimable at a time, so these may all run at once.
    const handled = (await Promise.all(claimed.map(handle))).filter((h): h is Handled => h !== null);
    // A lease lost meanwhile (this worker was too slow) leaves that message to the worker that now holds it.
    const marked = await options.store.markOutboxDelivered(
      owner,
      handled.flatMap((h) => (h.delivered ? [h.delivered] : [])),
    );
    const sent = await recordConfirmationsSent(
      options,
      owner,
      handled.flatMap((h) => (h.sent ? [h.sent] : [])),
    );
    // A request's deliveries to several systems are usually claimed together: checking each request once,
    // after all of them, spares a second worker transaction that would lose the race and roll back.
    const distinct = new Map<string, FollowUp>();
    for (const { delivered, sent: mail, followUp: next } of handled)
      if (next && ((delivered && marked.has(delivered.id)) || (mail && sent.has(mail.message.id))))
        distinct.set(`${next.kind}:${next.changeRequestId}`, next);
    const ready = await options.store.fullyConfirmed([...distinct.values()]);
    return { claimed: claimed.length, followUps: moveOn(ready) };
  }

  async function runOnce(): Promise<number> {
    const batch = await deliverBatch();
    await batch.followUps;
    return batch.claimed;
  }

  return {
    runOnce,
    sweepStranded,
    start() {
      if (isRunning) return;
      isRunning = true;
      loop = (async () => {
        let sweptAt = 0;
        // A batch's follow-ups are transactions that wait on the database; the next batch's deliveries wait on
        // the connected systems. Overlapping the two (one batch of follow-ups at a time, so they stay bounded)
        // keeps a change's lag from including the previous batch's bookkeeping.
        let followingUp: Promise<void> = Promise.resolve();
        while (isRunning) {
          let handled = 0;
          try {
            if (Date.now() - sweptAt >= leaseMs) {
              sweptAt = Date.now();
              const moved = await sweepStranded();
              if (moved > 0) log('stranded_requests_moved_on', { count: moved });
            }
            const batch = await deliverBatch();
            await followingUp;
            followingUp = batch.followUps;
            handled = batch.claimed;
          } catch (error) {
            log('worker_batch_failed', { error: errorText(error) });
          }
          if (handled === 0 && isRunning)
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, idleMs);
            });
        }
        await followingUp;
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
