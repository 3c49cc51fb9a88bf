import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildConnectedSystems,
  type ConnectedSystemDeclaration,
  loadConnectedSystemsFile,
} from '../src/adapters/connectors/connected-systems-config.ts';
import type { createSqlConnector } from '../src/adapters/connectors/sql/sql-connector.ts';
import type { ConnectedSystem } from '../src/app/ports.ts';
import { reconcileConnectedSystems } from '../src/app/reconcile-connected-systems.ts';
import { submitChangeRequest } from '../src/app/submit-change-request.ts';
import { sweepChangeRequests } from '../src/app/sweep-change-requests.ts';
import type { Customer } from '../src/core/customer-types.ts';
import type { Policy } from '../src/core/policy-types.ts';
import {
  type SampleSystem,
  startNatsSampleSystem,
  startSampleSystem,
} from '../src/demo/sample-connected-system.ts';
import { createOutboxWorker, MAX_DRIFT_ATTEMPTS } from '../src/worker/outbox-worker.ts';
import { createTestApp, defaultPolicy, type TestApp } from './support/test-app.ts';
import { testEngine } from './support/test-database.ts';

const NATS = '127.0.0.1:4222';
const isNatsUp = await connect({ servers: NATS, timeout: 1000, reconnect: false }).then(
  async (nc) => {
    await nc.close();
    return true;
  },
  () => false,
);
const runId = randomBytes(4).toString('hex');
const stream = `AMEND_TEST_${runId}`;
const subject = `amendtest.${runId}.marketing`;

let app: TestApp;
let billing: SampleSystem;
let marketing: SampleSystem;
let systems: Map<string, ConnectedSystem>;
let shipping: ReturnType<typeof createSqlConnector>;
let secondDatabase: { url: string; drop: () => Promise<void> };
const faults = { distortBilling: false, billingRefuses: false };
let lead: { id: string; apiKey: string };
const integration = { kind: 'integration' as const, id: 'key-1', role: 'integration' as const };

/** The default policy, plus a payroll system without an API that holds bank details. */
function policyWithManualSystem(): Policy {
  const policy = defaultPolicy();
  return {
    ...policy,
    fields: {
      ...policy.fields,
      bankAccount: { ...policy.fields.bankAccount, connectedSystems: ['billing', 'payroll'] },
    },
  };
}

/** A second database for the SQL connector: a real PostgreSQL database on that engine, an embedded one otherwise. */
async function openSecondDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (testEngine() === 'pglite') return { url: 'pglite://memory', drop: async () => {} };
  const admin = process.env.TEST_DATABASE_URL!;
  const name = `amend_connected_${runId}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: admin });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

beforeAll(async () => {
  app = await createTestApp({ policy: policyWithManualSystem() });
  lead = await app.addStaff('team_lead');
  billing = await startSampleSystem({
    name: 'billing',
    secret: 'billing-secret',
    fault: () => (faults.billingRefuses ? 422 : null),
    distortReadBack: (held) =>
      faults.distortBilling ? { ...held, fields: { ...held.fields, phone: '+61400000000' } } : held,
  });
  secondDatabase = await openSecondDatabase();
  const declarations: ConnectedSystemDeclaration[] = [
    {
      id: 'billing',
      kind: 'webhook',
      url: `${billing.url()}/hooks/amend`,
      secret: 'billing-secret',
      timeoutMs: 2000,
      readBackUrl: `${billing.url()}/customers/{customerId}`,
    },
    {
      id: 'shipping',
      kind: 'sql',
      url: secondDatabase.url,
      table: 'shipping_customer',
      keyColumn: 'customer_id',
      sequenceColumn: 'amend_sequence',
      columns: {
        legalName: 'legal_name',
        phone: 'phone',
        'postalAddress.postcode': 'postcode',
        'postalAddress.locality': 'suburb',
      },
      timeoutMs: 2000,
    },
    { id: 'payroll', kind: 'manual' },
  ];
  if (isNatsUp) {
    // A consumer that lags, as real ones do: the read-back must not take the lag for drift.
    marketing = await startNatsSampleSystem({
      name: 'marketing',
      servers: NATS,
      subject,
      stream,
      applyDelayMs: 150,
    });
    declarations.push({
      id: 'marketing',
      kind: 'nats',
      servers: NATS,
      subject,
      stream,
      timeoutMs: 2000,
      readBackUrl: `${marketing.url()}/customers/{customerId}`,
    });
  } else {
    marketing = await startSampleSystem({ name: 'marketing', secret: 'marketing-secret' });
    declarations.push({
      id: 'marketing',
      kind: 'webhook',
      url: `${marketing.url()}/hooks/amend`,
      secret: 'marketing-secret',
      timeoutMs: 2000,
      readBackUrl: `${marketing.url()}/customers/{customerId}`,
    });
  }
  const built = buildConnectedSystems({ systems: declarations }, app.policy, 'test', app.deps);
  if (!built.ok) throw new Error(built.error.message);
  systems = built.value;
  shipping = systems.get('shipping') as ReturnType<typeof createSqlConnector>;
  await shipping.executor.query(
    'CREATE TABLE shipping_customer (customer_id text PRIMARY KEY, amend_sequence integer, legal_name text, phone text, postcode text, suburb text)',
    [],
  );
});

afterAll(async () => {
  for (const system of systems?.values() ?? []) await system.close?.();
  await billing?.close();
  await marketing?.close();
  if (isNatsUp) {
    const nc = await connect({ servers: NATS });
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
    await nc.close();
  }
  await secondDatabase?.drop();
  await app.close();
});

const workerFor = () =>
  createOutboxWorker({
    ...app.deps,
    systems,
    retry: { baseDelayMs: 1000, maxDelayMs: 10_000, horizonMs: 3_600_000 },
  });

async function drain(rounds = 30) {
  const worker = workerFor();
  for (let round = 0; round < rounds; round += 1) {
    // NATS consumers apply asynchronously; give the sample system a moment before the next read-back.
    if ((await worker.runOnce()) === 0) {
      app.clock.advance(30_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if ((await worker.runOnce()) === 0) return;
    }
  }
}

async function submit(
  customer: Customer,
  changes: { field: string; value: unknown }[],
  requester = integration,
) {
  const result = await submitChangeRequest(
    app.deps,
    {
      customerId: customer.id,
      changes: changes as never,
      channel: 'api',
      reason: null,
      isSubmissionConfirmed: true,
      requester,
      source: { ip: '127.0.0.1', userAgent: null, apiKeyId: 'key-1' },
    },
    (request) => request,
  );
  if (!result.ok || result.value.isReplay)
    throw new Error(result.ok ? 'replay' : JSON.stringify(result.error));
  return result.value.request;
}

describe('the connected systems file', () => {
  it('names the file and where its syntax breaks, or that it is missing', () => {
    const folder = mkdtempSync(join(tmpdir(), 'amend-systems-'));
    const broken = join(folder, 'systems.json');
    writeFileSync(broken, '{"systems": [');
    const refused = loadConnectedSystemsFile(broken, app.policy, app.deps);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe('CONFIG.INVALID');
    expect(refused.error.message).toMatch(
      new RegExp(
        `^The connected systems file ${broken} is not valid YAML or JSON: .* at line 1, column \\d+$`,
      ),
    );
    const missing = loadConnectedSystemsFile(join(folder, 'nope.yaml'), app.policy, app.deps);
    expect(!missing.ok && missing.error.message).toMatch(/nope\.yaml: no such file or not readable/);
  });
});

describe('connected systems of every kind', () => {
  it.skipIf(!isNatsUp)('publishes to NATS JetStream once per change, even when delivered twice', async () => {
    const customer = await app.addCustomer();
    const request = await submit(customer, [{ field: 'communicationPreferences', value: { sms: true } }]);
    const nats = systems.get('marketing')!;
    const probeId = app.deps.ids.newId();
    const message = {
      id: 1,
      kind: 'propagation' as const,
      destination: 'marketing',
      customerId: probeId,
      changeRequestId: probeId,
      sequence: 1,
      payload: { changeId: probeId, customerId: probeId, sequence: 1, fields: {} },
      deadlineAt: null,
      attempts: 1,
      driftCount: 0,
      createdAt: new Date().toISOString(),
    };
    const nc0 = await connect({ servers: NATS });
    const before = (await (await jetstreamManager(nc0)).streams.info(stream)).state.messages;
    await nc0.close();
    expect(await nats.deliver(message)).toEqual({ ok: true });
    expect(await nats.deliver(message)).toEqual({ ok: true });
    const nc = await connect({ servers: NATS });
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    await nc.close();
    const publishedByProbe = info.state.messages - before;
    await drain();
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('completed');
    expect((await app.store.outboxForChangeRequest(request.id))[0]).toMatchObject({
      destination: 'marketing',
      confirmation: 'read_back',
    });
    expect(marketing.records.get(customer.id)?.fields.communicationPreferences).toEqual(
      (await app.store.findCustomer(customer.id))?.communicationPreferences,
    );
    expect(publishedByProbe).toBe(1);
  });

  it('writes mapped columns in another database, never letting an older change overwrite a newer one, and confirms by SELECT', async () => {
    const customer = await app.addCustomer();
    const first = await submit(customer, [{ field: 'phone', value: '+61499111001' }]);
    const second = await submit(customer, [
      {
        field: 'postalAddress',
        value: { lines: ['1 New Road'], locality: 'Fitzroy', region: 'VIC', postcode: '3065', country: 'AU' },
      },
    ]);
    await drain();
    for (const request of [first, second])
      expect((await app.store.findChangeRequest(request.id))?.state).toBe('completed');
    const [row] = await shipping.executor.query('SELECT * FROM shipping_customer WHERE customer_id = $1', [
      customer.id,
    ]);
    expect(row).toMatchObject({
      phone: '+61499111001',
      postcode: '3065',
      suburb: 'Fitzroy',
      amend_sequence: 3,
    });
    const stale = {
      id: 0,
      kind: 'propagation' as const,
      destination: 'shipping',
      customerId: customer.id,
      changeRequestId: first.id,
      sequence: 2,
      payload: { fields: { phone: '+61499000000' } },
      deadlineAt: null,
      attempts: 1,
      driftCount: 0,
      createdAt: new Date().toISOString(),
    };
    expect(await shipping.deliver(stale)).toEqual({ ok: true });
    const [after] = await shipping.executor.query(
      'SELECT phone FROM shipping_customer WHERE customer_id = $1',
      [customer.id],
    );
    expect(after?.phone).toBe('+61499111001');
  });

  it.skipIf(testEngine() !== 'postgres')(
    'gives up on a row another client holds locked within its timeout, and leaves the delivery to be retried',
    async () => {
      const customer = await app.addCustomer();
      await shipping.executor.query(
        'INSERT INTO shipping_customer (customer_id, amend_sequence) VALUES ($1, 0)',
        [customer.id],
      );
      const holder = new pg.Client({ connectionString: secondDatabase.url });
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM shipping_customer WHERE customer_id = $1 FOR UPDATE', [customer.id]);
      try {
        const result = await shipping.deliver({
          id: 0,
          kind: 'propagation',
          destination: 'shipping',
          customerId: customer.id,
          changeRequestId: app.deps.ids.newId(),
          sequence: 1,
          payload: { fields: { phone: '+61499222002' } },
          deadlineAt: null,
          attempts: 1,
          driftCount: 0,
          createdAt: new Date().toISOString(),
        });
        expect(result).toEqual({
          ok: false,
          error: 'shipping: update failed (SQLSTATE 57014)',
          isPermanent: false,
        });
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
    },
  );

  it('opens a manual task with the exact values, and reaches consistency only when a person attests it', async () => {
    const customer = await app.addCustomer();
    const representative = await app.addStaff('representative');
    const created = (
      await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [
          { field: 'bankAccount', value: { vaultToken: 'tok_bank_98765432', maskedIban: 'GB29****6819' } },
        ],
      })
    ).json();
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/verify`, {
      method: 'id_document',
      outcome: 'passed',
      evidence: { documentType: 'passport', documentReference: 'PB1', checklist: { ok: true } },
    });
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/confirm`, {
      revision: 1,
    });
    expect(
      (
        await app.call(lead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
          reason: 'Checked',
        })
      ).json().state,
    ).toBe('propagating');
    await drain();
    expect((await app.store.findChangeRequest(created.id))?.state).toBe('propagating');
    const tasks = (
      await app.call(representative.apiKey, 'GET', '/api/v1/manual-tasks?system=payroll')
    ).json();
    const task = tasks.items.find((item: { changeRequestId: string }) => item.changeRequestId === created.id);
    expect(task.values).toEqual({
      bankAccount: { vaultToken: 'tok_bank_98765432', maskedIban: 'GB29****6819' },
    });
    const attested = await app.call(representative.apiKey, 'POST', `/api/v1/manual-tasks/${task.id}/attest`, {
      evidence: 'Payroll ref 4411',
    });
    expect(attested.json()).toMatchObject({ status: 'done', evidence: 'Payroll ref 4411' });
    expect((await app.store.findChangeRequest(created.id))?.state).toBe('consistent');
    const again = await app.call(representative.apiKey, 'POST', `/api/v1/manual-tasks/${task.id}/attest`, {});
    expect(again.json().code).toBe('MANUAL_TASK.NOT_OPEN');
    const propagation = (await app.store.outboxForChangeRequest(created.id)).filter(
      (d) => d.kind === 'propagation',
    );
    expect(propagation.map((d) => d.confirmation).sort()).toEqual(['attested', 'read_back']);
  });

  it('records drift found by read-back, pushes again, and escalates when it persists', async () => {
    const customer = await app.addCustomer();
    faults.distortBilling = true;
    const request = await submit(customer, [{ field: 'phone', value: '+61499111002' }]);
    await drain();
    faults.distortBilling = false;
    const billingDelivery = (await app.store.outboxForChangeRequest(request.id)).find(
      (d) => d.destination === 'billing',
    );
    expect(billingDelivery).toMatchObject({
      status: 'dead',
      driftCount: MAX_DRIFT_ATTEMPTS,
      confirmedAt: null,
    });
    const stored = await app.store.findChangeRequest(request.id);
    expect(stored?.state).toBe('escalated');
    expect(stored?.escalation?.reason).toBe('data_discrepancy');
    const drift = await app.store.listAudit({
      chain: customer.id,
      action: 'propagation.drift_detected',
      limit: 10,
    });
    expect(drift.entries.map((entry) => entry.details.action)).toEqual([
      'pushed_again',
      'pushed_again',
      'escalated',
    ]);
    expect(JSON.stringify(drift.entries)).not.toContain('+61499111002');

    // The operator fixes the cause and retries the dead letter; it is delivered and confirmed.
    const dead = (await app.call(lead.apiKey, 'GET', '/api/v1/dead-letters?system=billing')).json();
    expect(dead.items.map((item: { id: number }) => item.id)).toContain(billingDelivery!.id);
    expect(
      (await app.call(lead.apiKey, 'POST', `/api/v1/dead-letters/${billingDelivery!.id}/retry`)).json()
        .status,
    ).toBe('pending');
    await drain();
    expect(await app.store.findOutbox(billingDelivery!.id)).toMatchObject({
      status: 'delivered',
      confirmation: 'read_back',
    });
    expect(
      (await app.call(lead.apiKey, 'POST', `/api/v1/dead-letters/${billingDelivery!.id}/retry`)).json().code,
    ).toBe('DEAD_LETTER.NOT_FOUND');
  });

  it('replays a refused dead letter with current values, unblocking later changes in order', async () => {
    const customer = await app.addCustomer();
    faults.billingRefuses = true;
    const first = await submit(customer, [{ field: 'preferredName', value: 'Nina' }]);
    const second = await submit(customer, [{ field: 'preferredName', value: 'Nadia' }]);
    await drain(4);
    const [dead] = (await app.store.outboxForChangeRequest(first.id)).filter(
      (d) => d.destination === 'billing',
    );
    expect(dead?.status).toBe('dead');
    expect(
      (await app.store.outboxForChangeRequest(second.id)).find((d) => d.destination === 'billing')?.attempts,
    ).toBe(0);
    faults.billingRefuses = false;
    expect(
      (await app.call(lead.apiKey, 'POST', `/api/v1/dead-letters/${dead!.id}/replay`)).json().status,
    ).toBe('pending');
    await drain();
    expect(billing.records.get(customer.id)?.fields.preferredName).toBe('Nadia');
    expect((await app.store.findChangeRequest(first.id))?.state).toBe('completed');
    expect((await app.store.findChangeRequest(second.id))?.state).toBe('completed');
    const sequences = billing.deliveries
      .filter((d) => d.customerId === customer.id && !d.isDuplicate)
      .map((d) => d.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  });

  it('reconciles: finds a value changed behind Amend’s back, reports it and pushes the current value', async () => {
    const customer = await app.addCustomer();
    await submit(customer, [{ field: 'phone', value: '+61499111003' }]);
    await drain();
    // A first reconcile is a full sync: the systems were only ever sent the fields that changed.
    const fullSync = await reconcileConnectedSystems({ ...app.deps, systems });
    expect(
      fullSync.drift.find((d) => d.customerId === customer.id && d.system === 'shipping')?.paths.sort(),
    ).toEqual(['legalName', 'postalAddress.locality', 'postalAddress.postcode']);
    await drain();
    await shipping.executor.query('UPDATE shipping_customer SET phone = $1 WHERE customer_id = $2', [
      '+61411111111',
      customer.id,
    ]);
    const report = await reconcileConnectedSystems({ ...app.deps, systems });
    expect(report.systemsChecked.sort()).toEqual(['billing', 'marketing', 'shipping']);
    expect(report.systemsSkipped).toEqual(['payroll']);
    expect(report.drift).toContainEqual({
      customerId: customer.id,
      system: 'shipping',
      paths: ['phone'],
      fix: 'pushed_current_values',
    });
    await drain();
    const [row] = await shipping.executor.query(
      'SELECT phone FROM shipping_customer WHERE customer_id = $1',
      [customer.id],
    );
    expect(row?.phone).toBe('+61499111003');
    expect(
      (await reconcileConnectedSystems({ ...app.deps, systems })).drift.filter(
        (d) => d.customerId === customer.id,
      ),
    ).toEqual([]);
  });

  it('flags a withdrawn consent not confirmed by marketing within five business days', async () => {
    app.clock.set('2026-11-20T01:00:00.000Z'); // Friday in Melbourne
    const customer = await app.addCustomer({
      communicationPreferences: { email: true, sms: true, post: false, phone: false },
    });
    const request = await submit(customer, [{ field: 'communicationPreferences', value: { email: false } }]);
    const [toMarketing] = (await app.store.outboxForChangeRequest(request.id)).filter(
      (d) => d.destination === 'marketing',
    );
    expect(toMarketing?.deadlineAt).toBe('2026-11-27T13:00:00.000Z'); // end of Friday 27 November, Melbourne
    app.clock.set('2026-11-28T00:00:00.000Z'); // never delivered: the worker did not run
    const swept = await sweepChangeRequests(app.deps);
    expect(swept.deadlineBreaches).toBe(1);
    expect((await app.store.findOutbox(toMarketing!.id))?.deadlineBreachedAt).toBe(
      '2026-11-28T00:00:00.000Z',
    );
    const breach = await app.store.listAudit({
      chain: customer.id,
      action: 'propagation.deadline_breached',
      limit: 5,
    });
    expect(breach.entries[0]?.details).toMatchObject({
      system: 'marketing',
      deadlineAt: '2026-11-27T13:00:00.000Z',
    });
    await drain();
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('completed');
    // Over NATS the read-back may come before the consumer applied the change: that is not drift.
    expect((await app.store.findOutbox(toMarketing!.id))?.driftCount).toBe(0);
  });
});
