import type { AuditEntryDraft } from '../core/audit-types.ts';
import { type ChangeRequestCommand, decide } from '../core/change-request-fns.ts';
import type { ChangeRequest } from '../core/change-request-types.ts';
import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import { ok, type Result } from '../core/result.ts';
import { type OutcomeWriter, writeOutcome } from './change-request-flow.ts';
import {
  decisionContext,
  type NotMeLinkDraft,
  type OutboxMessage,
  type Store,
  type WaitingRequest,
} from './ports.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

/**
 * Moves the request on past its deliveries of `kind`, which the caller found all confirmed (the outbox worker
 * checks a whole batch's requests in one read): a propagating request becomes `consistent`, a consistent one
 * whose confirmations the mail server accepted is completed (only then was the customer told). The state
 * machine is the guard: a request no longer where that applies (another worker moved it first) answers null,
 * which costs a rolled-back transaction only in that rare race rather than a read every time.
 */
export async function advance(
  deps: Deps,
  { changeRequestId, kind }: WaitingRequest,
): Promise<Result<ChangeRequest | null>> {
  const advanced = await runChangeRequestCommand(deps, changeRequestId, SYSTEM_ACTOR, () => commandFor(kind));
  return !advanced.ok && advanced.error.code === 'CHANGE_REQUEST.ILLEGAL_TRANSITION' ? ok(null) : advanced;
}

/**
 * `advance` for a worker's whole batch, in one transaction: the requests are locked in one statement and their
 * audit entries appended in one, rather than a transaction of a dozen round trips per request (which cost more
 * than delivering the change). A request no longer where its command applies (another worker moved it first)
 * is left as it is. Answers the requests moved on.
 */
export async function advanceAll(
  deps: Deps & { readonly store: Pick<Store, 'transaction'> },
  waiting: readonly WaitingRequest[],
): Promise<ChangeRequest[]> {
  if (waiting.length === 0) return [];
  const kinds = new Map(waiting.map((w) => [w.changeRequestId, w.kind]));
  return deps.store.transaction(async (tx) => {
    const requests = await tx.lockChangeRequests([...kinds.keys()]);
    // Those becoming consistent are confirmed to their customers: read them all in one statement.
    const customers = await tx.findCustomers(
      requests.filter((r) => kinds.get(r.id) === 'propagation').map((r) => r.customerId),
    );
    const writes = batchedWrites(tx, new Map(customers.map((c) => [c.id, c])));
    const moved: ChangeRequest[] = [];
    const audit: AuditEntryDraft[] = [];
    for (const request of requests) {
      const decided = decide(request, commandFor(kinds.get(request.id)!), decisionContext(deps));
      if (!decided.ok) continue;
      // Neither command leads to a state that applies a change, so there is no customer to write.
      const written = await writeOutcome(
        writes.writer,
        { ...decided.value, customerWrite: null },
        request.version,
        deps,
      );
      if (!written.ok) throw new Error(`${request.id}: ${written.error.code} ${written.error.message}`);
      moved.push(written.value.request);
      audit.push(...written.value.audit);
    }
    await writes.flush();
    await tx.appendAudit(audit);
    return moved;
  });
}

/**
 * What `writeOutcome` writes for a batch, gathered and then written with one statement per table. The requests
 * are locked, so their versions cannot move meanwhile; `flush` still checks every update landed and throws
 * (rolling the batch back) if one did not.
 */
function batchedWrites(tx: Store, customers: ReadonlyMap<string, Customer>) {
  const updates = new Map<string, { request: ChangeRequest; expectedVersion: number }>();
  const links: NotMeLinkDraft[] = [];
  const messages: OutboxMessage[] = [];
  let enqueuedAt: string | null = null;
  const update = (request: ChangeRequest, expectedVersion: number) => {
    // A request saved twice (consistent, then escalated for want of an address) is written once, from the
    // version it was locked at.
    updates.set(request.id, {
      request,
      expectedVersion: updates.get(request.id)?.expectedVersion ?? expectedVersion,
    });
  };
  const writer: OutcomeWriter = {
    async writeChangeRequest({ request, expectedVersion, applied, audit }) {
      if (expectedVersion === null) throw new Error('a batch moves existing requests only');
      if (applied) throw new Error('a batch writes no customer');
      if (audit?.length) throw new Error('a batch appends its audit entries at once');
      update(request, expectedVersion);
      return 'written';
    },
    findCustomer: async (id) => customers.get(id) ?? tx.findCustomer(id),
    async updateChangeRequest(request, expectedVersion) {
      update(request, expectedVersion);
      return true;
    },
    async insertNotMeLinks(batch) {
      links.push(...batch);
    },
    async enqueueOutbox(batch, now) {
      messages.push(...batch);
      enqueuedAt = now;
    },
  };
  return {
    writer,
    async flush() {
      const updated = await tx.updateChangeRequests([...updates.values()]);
      if (updated !== updates.size)
        throw new Error(`${updates.size - updated} change requests moved while locked`);
      await tx.insertNotMeLinks(links);
      if (enqueuedAt) await tx.enqueueOutbox(messages, enqueuedAt);
    },
  };
}

const commandFor = (kind: WaitingRequest['kind']): ChangeRequestCommand =>
  kind === 'propagation' ? { type: 'mark_consistent' } : { type: 'complete' };

/**
 * Moves a propagating request to `consistent` once every connected system holding a changed field has
 * confirmed the new value (read back, acknowledged where that is all a system offers, or attested).
 */
export async function markConsistentIfConfirmed(
  deps: Deps & { readonly store: Pick<Store, 'transaction' | 'fullyConfirmed'> },
  changeRequestId: string,
): Promise<Result<ChangeRequest | null>> {
  const [ready] = await deps.store.fullyConfirmed([{ changeRequestId, kind: 'propagation' }]);
  return ready ? advance(deps, ready) : ok(null);
}
