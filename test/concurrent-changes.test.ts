import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/adapters/audit-signer.ts';
import { runChangeRequestCommand } from '../src/app/run-change-request-command.ts';
import { submitChangeRequest } from '../src/app/submit-change-request.ts';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import { verifyIdentity } from '../src/app/verify-identity.ts';
import { SYSTEM_ACTOR } from '../src/core/change-request-types.ts';
import { createStore } from '../src/store/store.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';
import { testEngine } from './support/test-database.ts';

let app: TestApp;
const integration = { kind: 'integration' as const, id: 'key-1', role: 'integration' as const };
const representative = {
  kind: 'staff' as const,
  id: '018f0000-0000-7000-8000-00000000aaaa',
  role: 'representative' as const,
};
const source = { ip: '127.0.0.1', userAgent: 'test', apiKeyId: 'key-1' };

/** An auto-approvable change: applied as it is received. */
const renameByIntegration = (customerId: string, preferredName: string, deps = app.deps) =>
  submitChangeRequest(
    deps,
    {
      customerId,
      changes: [{ field: 'preferredName', value: preferredName }],
      channel: 'api',
      reason: null,
      isSubmissionConfirmed: true,
      requester: integration,
      source,
    },
    (request) => request,
  );

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

describe('concurrent changes', () => {
  // PGlite runs one transaction at a time, so only PostgreSQL can show two of them overlapping.
  it.skipIf(testEngine() !== 'postgres')(
    'lets a write that only references a customer through while an intake holds it (no deadlock with the worker)',
    async () => {
      const customer = await app.addCustomer();
      const now = app.clock.now().toISOString();
      let release = () => {};
      let isHeld = () => {};
      const held = new Promise<void>((resolve) => {
        isHeld = resolve;
      });
      const intake = app.store.transaction(async (tx) => {
        await tx.lockCustomerForChange(customer.id, now);
        isHeld();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      await held;
      // The verification lock's foreign key to the customer takes KEY SHARE on the customer's row.
      const referencing = app.store.transaction((tx) => tx.lockVerification(customer.id, now, 0));
      const first = await Promise.race([
        referencing.then(() => 'written'),
        new Promise((resolve) => setTimeout(resolve, 2_000, 'blocked')),
      ]);
      release();
      await Promise.all([intake, referencing]);
      expect(first).toBe('written');
    },
  );

  it("locks the customer's audit chain head with the customer, and appends on it without asking again", async () => {
    const customer = await app.addCustomer();
    let statements = 0;
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        statements += 1;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const store = createStore(app.database.db.withPlugin(counting), sha256Hex, app.cipher);
    const now = app.clock.now().toISOString();
    const entry = (action: string) => ({
      chain: customer.id,
      occurredAt: now,
      actor: SYSTEM_ACTOR,
      action,
      changeRequestId: null,
      details: {},
    });
    let release = () => {};
    let isHeld = () => {};
    const held = new Promise<void>((resolve) => {
      isHeld = resolve;
    });
    const intake = store.transaction(async (tx) => {
      await tx.lockCustomerForChange(customer.id, now);
      isHeld();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      statements = 0;
      // Each append builds on the head the one before it left: the second would repeat a sequence number.
      const first = await tx.appendAudit([entry('test.first')]);
      const second = await tx.appendAudit([entry('test.second')]);
      return { first, second, statements };
    });
    await held;
    if (testEngine() === 'postgres') {
      // Held from the intake's first statement: another writer of the chain cannot take it meanwhile.
      const taken = app.database.db
        .transaction()
        .execute((trx) =>
          sql`SELECT seq FROM audit_chain_head WHERE chain = ${customer.id} FOR UPDATE NOWAIT`.execute(trx),
        );
      await expect(taken).rejects.toMatchObject({ code: '55P03' });
    }
    release();
    const { first, second, statements: appends } = await intake;
    expect(appends).toBe(2);
    expect(second[0]?.seq).toBe((first[0]?.seq ?? 0) + 1);
    expect(second[0]?.prevHash).toBe(first[0]?.hash);
    const report = await verifyAuditLog({ store: app.store, signer: app.signer });
    expect(report.isIntact).toBe(true);
  });

  it('receives, applies and audits an auto-approvable change in three statements, the transaction aside', async () => {
    const customer = await app.addCustomer();
    let statements = 0;
    // Counted as their results come back: a query builder inside a raw statement is transformed, not run.
    const counting: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        statements += 1;
        return args.result;
      },
    };
    const store = createStore(app.database.db.withPlugin(counting), sha256Hex, app.cipher);
    const submitted = await renameByIntegration(customer.id, 'Counted', { ...app.deps, store });
    expect(submitted.ok && !submitted.value.isReplay && submitted.value.request.state).toBe('propagating');
    // The customer and its chain head locked; the anomaly rules' history; the request, the customer, the
    // outbox rows and the audit entries written. Each statement is a round trip on the hottest path.
    expect(statements).toBe(3);
    expect((await app.store.openedAuditTrail(customer.id)).map((entry) => entry.action)).toContain(
      'change_request.applied',
    );
    expect((await verifyAuditLog({ store: app.store, signer: app.signer })).isIntact).toBe(true);
  });

  it('serialises changes to one customer: every accepted change applied once, none lost', async () => {
    const customer = await app.addCustomer();
    const count = 24;
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        renameByIntegration(customer.id, `Name ${String.fromCharCode(65 + i)}`),
      ),
    );
    const applied = results.filter(
      (result) => result.ok && !result.value.isReplay && result.value.request.state === 'propagating',
    );
    expect(applied).toHaveLength(count);
    const stored = await app.store.findCustomer(customer.id);
    expect(stored?.version).toBe(1 + count);
    const appliedEntries = await app.store.listAudit({
      chain: customer.id,
      action: 'change_request.applied',
      limit: 500,
    });
    expect(appliedEntries.entries).toHaveLength(count);
    expect(new Set(appliedEntries.entries.map((entry) => entry.details.customerVersion))).toHaveLength(count);
  });

  it('writes a change request, the change it applies and its audit entries only while both are at their expected versions', async () => {
    const customer = await app.addCustomer();
    const submitted = await renameByIntegration(customer.id, 'Guarded');
    if (!submitted.ok || submitted.value.isReplay) throw new Error('setup');
    const request = submitted.value.request;
    const stored = (await app.store.findCustomer(customer.id))!;
    const message = (changeRequestId: string) => ({
      kind: 'propagation' as const,
      destination: 'billing',
      customerId: customer.id,
      changeRequestId,
      sequence: stored.version + 1,
      payload: { fields: { preferredName: 'Never' } },
      deadlineAt: null,
    });
    const draft = {
      chain: customer.id,
      occurredAt: app.clock.now().toISOString(),
      actor: SYSTEM_ACTOR,
      action: 'test.guarded_write',
      changeRequestId: null,
      details: {},
    };
    // With the customer's chain held (as an intake holds it), the entries go in the write's own statement;
    // without, in an append after it.
    const attempt = (write: Parameters<TestApp['store']['writeChangeRequest']>[0], isChainHeld = true) =>
      app.store
        .transaction(async (tx) => {
          if (isChainHeld) await tx.lockCustomerForChange(customer.id, draft.occurredAt);
          const written = await tx.writeChangeRequest({ ...write, audit: [draft] });
          // The chain goes on from where the write left it (or from where it was, if nothing was written).
          await tx.appendAudit([{ ...draft, action: 'test.after_write' }]);
          const trail = await tx.openedAuditTrail(customer.id);
          const after = {
            written,
            customerVersion: (await tx.findCustomer(customer.id))?.version,
            requestVersion: (await tx.findChangeRequest(write.request.id))?.version ?? null,
            messages: (await tx.outboxForChangeRequest(write.request.id)).length,
            entries: trail.filter((entry) => entry.action === draft.action).length,
            isChained: trail.every((entry, i) => i === 0 || entry.prevHash === trail[i - 1]!.hash),
          };
          throw Object.assign(new Error('roll back'), { after });
        })
        .catch((error: { after?: unknown }) => {
          if (!error.after) throw error;
          return error.after;
        });
    const existingMessages = (await app.store.outboxForChangeRequest(request.id)).length;
    const renamed = { ...stored, preferredName: 'Never', version: stored.version + 1 };
    const applied = (messages: ReturnType<typeof message>[], expectedVersion = stored.version) => ({
      customer: renamed,
      expectedVersion,
      messages,
      now: app.clock.now().toISOString(),
    });

    // A stale request: neither the customer nor its messages are written.
    await expect(
      attempt({
        request: { ...request, version: request.version + 1 },
        expectedVersion: request.version - 1,
        applied: applied([message(request.id)]),
      }),
    ).resolves.toEqual({
      written: 'request_moved',
      customerVersion: stored.version,
      requestVersion: request.version,
      messages: existingMessages,
      entries: 0,
      isChained: true,
    });
    // A new request over a stale customer: the request is written, the customer and the messages are not.
    const fresh = { ...request, id: app.deps.ids.newId(), version: 1 };
    await expect(
      attempt({
        request: fresh,
        expectedVersion: null,
        applied: applied([message(fresh.id)], stored.version - 1),
      }),
    ).resolves.toEqual({
      written: 'customer_moved',
      customerVersion: stored.version,
      requestVersion: 1,
      messages: 0,
      entries: 0,
      isChained: true,
    });
    // Both current: all four are written, the entries with the write or after it.
    for (const isChainHeld of [true, false])
      await expect(
        attempt(
          { request: fresh, expectedVersion: null, applied: applied([message(fresh.id)]) },
          isChainHeld,
        ),
      ).resolves.toEqual({
        written: 'written',
        customerVersion: stored.version + 1,
        requestVersion: 1,
        messages: 1,
        entries: 1,
        isChained: true,
      });
  });

  it('escalates the loser of two changes to the same field instead of overwriting', async () => {
    const customer = await app.addCustomer();
    const ids: string[] = [];
    for (const phone of ['0499 111 222', '0499 333 444']) {
      const created = await submitChangeRequest(
        app.deps,
        {
          customerId: customer.id,
          changes: [{ field: 'phone', value: phone }],
          channel: 'phone',
          reason: null,
          isSubmissionConfirmed: false,
          requester: representative,
          source,
        },
        (request) => request,
      );
      if (!created.ok || created.value.isReplay) throw new Error('setup');
      ids.push(created.value.request.id);
      for (const method of ['knowledge_check', 'account_fact'] as const)
        await verifyIdentity(app.deps, created.value.request.id, representative, {
          method,
          outcome: 'passed',
          evidence: method === 'knowledge_check' ? { question: 'q' } : { fact: 'postcode' },
        });
    }
    const outcomes = await Promise.all(
      ids.map((id) =>
        runChangeRequestCommand(app.deps, id, representative, () => ({
          type: 'confirm_read_back',
          by: representative,
          revision: 1,
        })),
      ),
    );
    const states = outcomes.map((outcome) => (outcome.ok ? outcome.value.state : outcome.error.code)).sort();
    expect(states).toEqual(['escalated', 'propagating']);
    const loser = outcomes.find((outcome) => outcome.ok && outcome.value.state === 'escalated');
    expect(loser?.ok && loser.value.escalation?.reason).toBe('data_discrepancy');
    const winner = outcomes.find((outcome) => outcome.ok && outcome.value.state === 'propagating');
    const stored = await app.store.findCustomer(customer.id);
    expect(winner?.ok && stored?.phone).toBe(winner?.ok ? (winner.value.items[0]?.proposed as string) : null);
    expect(stored?.version).toBe(2);
    const report = await verifyAuditLog({ store: app.store, signer: app.signer });
    expect(report.isIntact).toBe(true);
  });
});
