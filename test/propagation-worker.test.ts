import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectedSystems } from '../src/adapters/connectors/connected-systems-config.ts';
import { advance, advanceAll } from '../src/app/confirm-consistency.ts';
import type { ConnectedSystem } from '../src/app/ports.ts';
import { submitChangeRequest } from '../src/app/submit-change-request.ts';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { type SampleSystem, startSampleSystem } from '../src/demo/sample-connected-system.ts';
import { createOutboxWorker } from '../src/worker/outbox-worker.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
const systems: Record<string, SampleSystem> = {};
let connected: Map<string, ConnectedSystem>;
const integration = { kind: 'integration' as const, id: 'key-1', role: 'integration' as const };
const faults = { billingFailuresLeft: 0, isShippingDown: false, marketingRefuses: false, slowAnswersLeft: 0 };

beforeAll(async () => {
  app = await createTestApp();
  systems.billing = await startSampleSystem({
    name: 'billing',
    secret: 'billing-secret',
    fault: () => (faults.billingFailuresLeft-- > 0 ? 503 : null),
  });
  systems.shipping = await startSampleSystem({
    name: 'shipping',
    secret: 'shipping-secret',
    fault: () => (faults.isShippingDown ? 502 : null),
    // The first answers come too late for the connector's 300 ms timeout; then slow but in time.
    delayMs: () => (faults.slowAnswersLeft-- > 0 ? 600 : Math.floor(Math.random() * 20)),
  });
  systems.marketing = await startSampleSystem({
    name: 'marketing',
    secret: 'marketing-secret',
    fault: () => (faults.marketingRefuses ? 400 : null),
  });
  const declared = buildConnectedSystems(
    {
      systems: Object.values(systems).map((s) => ({
        id: s.name,
        kind: 'webhook',
        url: `${s.url()}/hooks/amend`,
        secret: `${s.name}-secret`,
        timeoutMs: s.name === 'shipping' ? 300 : 2000,
      })),
    },
    app.policy,
    'test',
    app.deps,
  );
  if (!declared.ok) throw new Error(declared.error.message);
  connected = declared.value;
});
afterAll(async () => {
  await Promise.all(Object.values(systems).map((s) => s.close()));
  await app.close();
});

const workerFor = () =>
  createOutboxWorker({
    ...app.deps,
    systems: connected,
    retry: { baseDelayMs: 1000, maxDelayMs: 60_000, horizonMs: 3_600_000 },
  });

async function submit(
  customer: Customer,
  changes: {
    field: 'phone' | 'preferredName' | 'postalAddress' | 'communicationPreferences';
    value: unknown;
  }[],
) {
  const result = await submitChangeRequest(
    app.deps,
    {
      customerId: customer.id,
      changes,
      channel: 'api',
      reason: null,
      isSubmissionConfirmed: true,
      requester: integration,
      source: { ip: '127.0.0.1', userAgent: null, apiKeyId: 'key-1' },
    },
    (r) => r,
  );
  if (!result.ok || result.value.isReplay)
    throw new Error(result.ok ? 'replay' : JSON.stringify(result.error));
  return result.value.request;
}

/** Runs two workers side by side, advancing the clock past retry times, until nothing is due. */
async function drain(rounds = 60) {
  const workers = [workerFor(), workerFor()];
  for (let round = 0; round < rounds; round += 1) {
    const handled = await Promise.all(workers.map((worker) => worker.runOnce()));
    if (handled.every((count) => count === 0)) {
      app.clock.advance(120_000);
      const again = await Promise.all(workers.map((worker) => worker.runOnce()));
      if (again.every((count) => count === 0)) return;
    }
  }
}

describe('propagation to connected systems', () => {
  it('delivers every change once, in order per customer, through failures and an outage, until all systems agree', async () => {
    const customers = await Promise.all(Array.from({ length: 4 }, () => app.addCustomer()));
    faults.billingFailuresLeft = 7;
    faults.isShippingDown = true;
    faults.slowAnswersLeft = 2;
    const requests = [];
    const names = ['Alba', 'Bruno', 'Carla', 'Dario', 'Elena'];
    for (const [index, customer] of customers.entries()) {
      for (const name of names)
        requests.push(
          await submit(customer, [{ field: 'preferredName', value: `${name} ${'ABCD'[index]}` }]),
        );
      requests.push(
        await submit(customer, [
          { field: 'phone', value: `+6149911122${index}` },
          { field: 'communicationPreferences', value: { sms: true, email: index % 2 === 0 } },
        ]),
      );
    }
    await drain(5);
    faults.isShippingDown = false; // the outage ends; its first answers time out
    await drain();

    for (const request of requests) {
      const stored = await app.store.findChangeRequest(request.id);
      expect(stored?.state, request.id).toBe('completed');
      const deliveries = await app.store.outboxForChangeRequest(request.id);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    }
    for (const customer of customers) {
      const record = await app.store.findCustomer(customer.id);
      for (const system of Object.values(systems)) {
        const held = system.records.get(customer.id);
        const fields = Object.keys(held?.fields ?? {});
        for (const field of fields)
          expect(held?.fields[field], `${system.name}.${field}`).toEqual(record?.[field as keyof Customer]);
        const applied = system.deliveries
          .filter((d) => d.customerId === customer.id && !d.isDuplicate)
          .map((d) => d.sequence);
        expect(applied, `${system.name} order`).toEqual([...applied].sort((a, b) => a - b));
        expect(new Set(applied).size).toBe(applied.length);
      }
      expect(systems.billing!.records.get(customer.id)?.fields.preferredName).toBe(record?.preferredName);
      expect(systems.shipping!.records.get(customer.id)?.fields.phone).toBe(record?.phone);
      expect(systems.marketing!.records.get(customer.id)?.fields.communicationPreferences).toEqual(
        record?.communicationPreferences,
      );
    }
  });

  it('dead-letters a refused change and holds later ones for that customer and system, never overtaking', async () => {
    const customer = await app.addCustomer();
    faults.marketingRefuses = true;
    const first = await submit(customer, [{ field: 'communicationPreferences', value: { sms: true } }]);
    const second = await submit(customer, [{ field: 'communicationPreferences', value: { post: false } }]);
    await drain(4);
    const [firstDelivery] = await app.store.outboxForChangeRequest(first.id);
    const [secondDelivery] = await app.store.outboxForChangeRequest(second.id);
    expect(firstDelivery).toMatchObject({ status: 'dead', lastError: 'marketing: HTTP 400' });
    expect(secondDelivery).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await app.store.findChangeRequest(first.id))?.state).toBe('propagating');
    expect(systems.marketing!.records.get(customer.id)).toBeUndefined();
    faults.marketingRefuses = false;
  });

  it('moves on a request left behind by a worker that died after confirming its last delivery', async () => {
    const customer = await app.addCustomer();
    const request = await submit(customer, [{ field: 'preferredName', value: 'Stranded Sam' }]);
    /** What a worker does before it dies: deliveries of `kind` confirmed, and the request not moved on. */
    const confirmAllOf = async (kind: 'propagation' | 'confirmation') => {
      const owner = 'worker-that-dies';
      const claimed = await app.store.claimOutbox({
        owner,
        limit: 500,
        now: app.clock.now().toISOString(),
        leaseMs: 60_000,
      });
      const mine = claimed.filter((m) => m.changeRequestId === request.id && m.kind === kind);
      expect(mine.length).toBeGreaterThan(0);
      const at = app.clock.now().toISOString();
      const marked = await app.store.markOutboxDelivered(
        owner,
        mine.map((message) => ({ id: message.id, at, confirmation: 'acknowledged' as const })),
      );
      expect(marked.size).toBe(mine.length);
      // Whatever else it held is released the way a dead worker's lease is: by running out.
      app.clock.advance(61_000);
    };
    const sweeper = workerFor();

    await confirmAllOf('propagation');
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('propagating');
    expect(await sweeper.sweepStranded()).toBeGreaterThanOrEqual(1);
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('consistent');

    await confirmAllOf('confirmation');
    expect(await sweeper.sweepStranded()).toBeGreaterThanOrEqual(1);
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('completed');
    // Nothing left to move on: a second sweep finds nothing of this request's.
    expect(
      (await app.store.strandedChangeRequests(app.clock.now().toISOString(), 500)).map(
        (s) => s.changeRequestId,
      ),
    ).not.toContain(request.id);
  });

  it('moves a batch on in one transaction, leaving alone a request another worker moved first, auditing each once', async () => {
    const customers = await Promise.all(Array.from({ length: 3 }, () => app.addCustomer()));
    // Nowhere to send a confirmation: that request is escalated within the batch, written once.
    const unreachable = await app.addCustomer({ email: null });
    const requests = await Promise.all(
      customers.map((customer, index) =>
        submit(customer, [{ field: 'preferredName', value: `Batch ${'ABC'[index]}` }]),
      ),
    );
    const unreachableRequest = await submit(unreachable, [{ field: 'preferredName', value: 'Quiet Quinn' }]);
    const ids = new Set([...requests, unreachableRequest].map((r) => r.id));
    const owner = 'worker-under-test';
    const claimed = (
      await app.store.claimOutbox({ owner, limit: 500, now: app.clock.now().toISOString(), leaseMs: 60_000 })
    ).filter((m) => m.changeRequestId && ids.has(m.changeRequestId));
    const at = app.clock.now().toISOString();
    await app.store.markOutboxDelivered(
      owner,
      claimed.map((message) => ({ id: message.id, at, confirmation: 'acknowledged' as const })),
    );
    const waiting = requests.map((r) => ({ kind: 'propagation' as const, changeRequestId: r.id }));
    expect(await app.store.fullyConfirmed(waiting)).toHaveLength(3);
    // Another worker got to the first one already.
    expect((await advance(app.deps, waiting[0]!)).ok).toBe(true);

    const moved = await advanceAll(app.deps, waiting);

    const [escalated] = await advanceAll(app.deps, [
      { kind: 'propagation', changeRequestId: unreachableRequest.id },
    ]);
    expect(escalated).toMatchObject({
      state: 'escalated',
      escalation: { reason: 'confirmation_undeliverable' },
      version: unreachableRequest.version + 2,
    });
    expect((await app.store.findChangeRequest(unreachableRequest.id))?.version).toBe(
      unreachableRequest.version + 2,
    );
    expect(
      (await app.store.outboxForChangeRequest(unreachableRequest.id)).filter(
        (m) => m.kind === 'confirmation',
      ),
    ).toHaveLength(0);
    expect(moved.map((r) => r.id).sort()).toEqual([requests[1]!.id, requests[2]!.id].sort());
    for (const request of requests) {
      expect((await app.store.findChangeRequest(request.id))?.state).toBe('consistent');
      const { entries } = await app.store.listAudit({ changeRequestId: request.id, limit: 100 });
      const actions = entries.map((e) => e.action);
      expect(actions.filter((a) => a === 'change_request.consistency_confirmed')).toHaveLength(1);
      expect(actions.filter((a) => a === 'confirmation.queued')).toHaveLength(1);
      const mails = (await app.store.outboxForChangeRequest(request.id)).filter(
        (m) => m.kind === 'confirmation',
      );
      expect(mails).toHaveLength(1);
    }
    expect((await verifyAuditLog({ store: app.store, signer: app.signer })).isIntact).toBe(true);
  });
});
