import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectedSystems } from '../src/adapters/connectors/connected-systems-config.ts';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { type SampleSystem, startSampleSystem } from '../src/demo/sample-connected-system.ts';
import { buildServer } from '../src/server/http-server.ts';
import { createOutboxWorker } from '../src/worker/outbox-worker.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/**
 * The reliability suite (issue #9), bounded in count and time, loopback only. RELIABILITY_CHANGES sets the size
 * of the conflicting load (default 10,000).
 */

const CHANGES = Number(process.env.RELIABILITY_CHANGES ?? 10_000);
const CUSTOMERS = 100;
const CONCURRENCY = 32;

let app: TestApp;
let server: Awaited<ReturnType<typeof buildServer>>;
let integrationKey: string;

beforeAll(async () => {
  app = await createTestApp();
  // The per-customer abuse limit would refuse most of a load aimed at 100 customers; it is tested elsewhere.
  server = await buildServer({
    ...app.deps,
    submissionLimits: { perMinutePerAddress: 10_000_000, perHourPerCustomer: 10_000_000 },
  });
  integrationKey = (await app.addIntegration()).apiKey;
});
afterAll(async () => {
  await server.close();
  await app.close();
});

const submit = (customerId: string, changes: { field: string; value: unknown }[]) =>
  server.inject({
    method: 'POST',
    url: '/api/v1/change-requests',
    headers: { authorization: `Bearer ${integrationKey}` },
    payload: { customerId, changes, confirmSubmittedValues: true },
  });

/** Runs `count` jobs with at most `concurrency` in flight. */
async function inParallel<T>(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await job(index);
      }
    }),
  );
  return results;
}

const nameFor = (index: number) =>
  `Load ${[...index.toString(26)].map((digit) => String.fromCharCode(97 + Number.parseInt(digit, 26))).join('')}`;

describe('reliability', () => {
  it(
    `keeps every one of ${CHANGES} conflicting concurrent changes to ${CUSTOMERS} customers: none lost, each audited once`,
    async () => {
      const customers: Customer[] = [];
      for (let i = 0; i < CUSTOMERS; i++) customers.push(await app.addCustomer());
      // Every request writes the same two fields of one of the customers: they all collide.
      const responses = await inParallel(CHANGES, CONCURRENCY, (index) =>
        submit(customers[index % CUSTOMERS]!.id, [
          { field: 'preferredName', value: nameFor(index) },
          { field: 'phone', value: `+614${String(10_000_000 + index).slice(-8)}` },
        ]),
      );
      const failures = responses.filter((response) => response.statusCode !== 201);
      expect(failures.map((response) => response.body.slice(0, 200))).toEqual([]);
      const acknowledged = responses.map((response) => response.json() as { id: string; state: string });

      // Every acknowledged request is stored, and applied.
      const stored = await sql<{ id: string; customer_id: string; applied: boolean }>`
        SELECT id, customer_id, (body->>'appliedAt') IS NOT NULL AS applied FROM change_request
        WHERE customer_id = ANY(${customers.map((c) => c.id)}::uuid[])`.execute(app.database.db);
      const byId = new Map(stored.rows.map((row) => [row.id, row]));
      for (const request of acknowledged) expect(byId.get(request.id)?.applied, request.id).toBe(true);
      expect(stored.rows).toHaveLength(CHANGES);

      for (const customer of customers) {
        const record = (await app.store.findCustomer(customer.id))!;
        const applied = await app.store.listAudit({
          chain: customer.id,
          action: 'change_request.applied',
          limit: 500,
        });
        const mine = acknowledged.filter((_, index) => index % CUSTOMERS === customers.indexOf(customer));
        // No lost update: the version moved once per change, each change has exactly one `applied` entry…
        expect(record.version).toBe(1 + mine.length);
        expect(applied.entries).toHaveLength(mine.length);
        expect(new Set(applied.entries.map((entry) => entry.changeRequestId)).size).toBe(mine.length);
        const versions = applied.entries.map((entry) => entry.details.customerVersion as number);
        expect(new Set(versions).size).toBe(mine.length);
        // …and the record holds what the last of them wrote.
        const last = applied.entries.reduce((a, b) =>
          (a.details.customerVersion as number) > (b.details.customerVersion as number) ? a : b,
        );
        const written = (last.details.changes as { field: string; new: unknown }[]).find(
          (change) => change.field === 'preferredName',
        );
        expect(record.preferredName).toBe(written?.new);
      }
      const verification = await verifyAuditLog({ store: app.store, signer: app.signer });
      expect(verification.firstBroken).toBeNull();
      expect(verification.isIntact).toBe(true);
    },
    20 * 60_000,
  );

  it('delivers everything once and in order per customer to a system that was down for the whole load', async () => {
    // A database of its own: the load above left its own deliveries queued.
    const app = await createTestApp();
    const integrationKey = (await app.addIntegration()).apiKey;
    const submit = (customerId: string, changes: { field: string; value: unknown }[]) =>
      app.call(integrationKey, 'POST', '/api/v1/change-requests', {
        customerId,
        changes,
        confirmSubmittedValues: true,
      });
    let isDown = true;
    const billing: SampleSystem = await startSampleSystem({
      name: 'billing',
      secret: 'billing-secret',
      fault: () => (isDown ? 503 : null),
    });
    const others = await Promise.all(
      ['shipping', 'marketing'].map((name) => startSampleSystem({ name, secret: `${name}-secret` })),
    );
    const systems = [billing, ...others];
    const declared = buildConnectedSystems(
      {
        systems: systems.map((system) => ({
          id: system.name,
          kind: 'webhook',
          url: `${system.url()}/hooks/amend`,
          secret: `${system.name}-secret`,
        })),
      },
      app.policy,
      'test',
      app.deps,
    );
    if (!declared.ok) throw new Error(declared.error.message);
    const workers = [1, 2].map(() =>
      createOutboxWorker({
        ...app.deps,
        systems: declared.value,
        retry: { baseDelayMs: 1000, maxDelayMs: 60_000, horizonMs: 24 * 3_600_000 },
      }),
    );
    const drain = async () => {
      for (let round = 0; round < 500; round++) {
        const handled = await Promise.all(workers.map((worker) => worker.runOnce()));
        if (handled.every((count) => count === 0)) {
          app.clock.advance(61_000);
          if ((await Promise.all(workers.map((worker) => worker.runOnce()))).every((count) => count === 0))
            return;
        }
      }
    };

    const customers: Customer[] = [];
    for (let i = 0; i < 20; i++) customers.push(await app.addCustomer());
    // The load arrives while billing is down; the workers keep trying (and failing) throughout.
    const requests: string[] = [];
    for (let round = 0; round < 15; round++) {
      const answers = await inParallel(customers.length, 8, (index) =>
        submit(customers[index]!.id, [{ field: 'preferredName', value: nameFor(round * 100 + index) }]),
      );
      requests.push(...answers.map((answer) => answer.json().id as string));
      await Promise.all(workers.map((worker) => worker.runOnce()));
      app.clock.advance(30_000);
    }
    expect(billing.deliveries.filter((delivery) => !delivery.isDuplicate)).toEqual([]);

    isDown = false;
    await drain();
    await Promise.all(systems.map((system) => system.close()));

    for (const id of requests) {
      const deliveries = await app.store.outboxForChangeRequest(id);
      expect(
        deliveries.filter((d) => d.kind === 'propagation').every((d) => d.status === 'delivered'),
        id,
      ).toBe(true);
    }
    for (const customer of customers) {
      const record = await app.store.findCustomer(customer.id);
      const applied = billing.deliveries
        .filter((delivery) => delivery.customerId === customer.id && !delivery.isDuplicate)
        .map((delivery) => delivery.sequence);
      // Once each (15 changes), in the order they were made, ending on the current value.
      expect(applied).toHaveLength(15);
      expect(applied).toEqual([...applied].sort((a, b) => a - b));
      expect(new Set(applied).size).toBe(applied.length);
      expect(billing.records.get(customer.id)?.fields.preferredName).toBe(record?.preferredName);
    }
    await app.close();
  }, 300_000);
});
