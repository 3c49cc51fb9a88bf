import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityFromAuditEntry } from '../src/core/anomaly-fns.ts';
import { SYSTEM_ACTOR } from '../src/core/change-request-types.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
type Key = { id: string; apiKey: string };
let integration: Key;
let representative: Key;
let lead: Key;
let manager: Key;

beforeAll(async () => {
  app = await createTestApp();
  integration = await app.addIntegration();
  representative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
  manager = await app.addStaff('manager');
});
afterAll(() => app.close());

const submit = (key: Key, customer: Customer, changes: unknown[], confirm = true) =>
  app.call(key.apiKey, 'POST', '/api/v1/change-requests', {
    customerId: customer.id,
    changes,
    confirmSubmittedValues: confirm,
  });

const flagsOf = async (customer: Customer) =>
  (await app.call(manager.apiKey, 'GET', `/api/v1/anomalies?customerId=${customer.id}`)).json().items;

describe('anomaly flags', () => {
  it('flags many changes to one customer at the third within a day, without holding them', async () => {
    const customer = await app.addCustomer();
    for (const name of ['Alba', 'Bea'])
      expect(
        (await submit(integration, customer, [{ field: 'preferredName', value: name }])).json().state,
      ).toBe('propagating');
    expect(await flagsOf(customer)).toEqual([]);
    const third = (await submit(integration, customer, [{ field: 'preferredName', value: 'Cleo' }])).json();
    expect(third.state).toBe('propagating');
    const flags = await flagsOf(customer);
    expect(flags).toEqual([
      expect.objectContaining({
        rule: 'many_changes_to_one_customer',
        severity: 'medium',
        evidence: { changes: 3, windowHours: 24 },
      }),
    ]);
    await submit(integration, customer, [{ field: 'preferredName', value: 'Dora' }]);
    expect(await flagsOf(customer)).toHaveLength(1);
  });

  it('holds a bank change that follows a contact change, until the flag is reviewed', async () => {
    const customer = await app.addCustomer();
    expect(
      (await submit(integration, customer, [{ field: 'phone', value: '+61499123456' }])).json().state,
    ).toBe('propagating');
    app.clock.advance(2 * 24 * 60 * 60 * 1000);
    const bank = (
      await submit(
        representative,
        customer,
        [{ field: 'bankAccount', value: { vaultToken: 'tok_bank_55554444', maskedIban: 'GB29****6819' } }],
        false,
      )
    ).json();
    const [flag] = await flagsOf(customer);
    expect(flag).toMatchObject({ rule: 'contact_then_payment', severity: 'high', changeRequestId: bank.id });
    // While the flag is open, any change about to apply is held, an integration's basic one at intake too.
    const basic = (await submit(integration, customer, [{ field: 'preferredName', value: 'Held' }])).json();
    expect(basic).toMatchObject({ state: 'escalated', escalation: { reason: 'anomaly_hold' } });
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${bank.id}/verify`, {
      method: 'id_document',
      outcome: 'passed',
      evidence: { documentType: 'passport', documentReference: 'PX1', checklist: { ok: true } },
    });
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${bank.id}/confirm`, {
      revision: 1,
    });
    const held = (
      await app.call(lead.apiKey, 'POST', `/api/v1/change-requests/${bank.id}/approve`, {
        reason: 'Documents fine',
      })
    ).json();
    expect(held.state).toBe('escalated');
    expect(held.escalation).toMatchObject({ reason: 'anomaly_hold', from: 'awaiting_approval' });
    expect((await app.store.findCustomer(customer.id))?.bankAccount).toBeNull();

    const representativeReview = await app.call(
      representative.apiKey,
      'POST',
      `/api/v1/anomalies/${flag.id}/dismiss`,
      { reason: 'x' },
    );
    expect(representativeReview.json().code).toBe('AUTH.FORBIDDEN');
    const dismissed = (
      await app.call(manager.apiKey, 'POST', `/api/v1/anomalies/${flag.id}/dismiss`, {
        reason: 'Called the customer on the old number; genuine',
      })
    ).json();
    expect(dismissed).toMatchObject({ status: 'dismissed', reviewedBy: { id: manager.id } });
    expect(
      (await app.call(manager.apiKey, 'POST', `/api/v1/anomalies/${flag.id}/confirm`, { reason: 'x' })).json()
        .code,
    ).toBe('ANOMALY.NOT_OPEN');
    const resumed = (
      await app.call(lead.apiKey, 'POST', `/api/v1/change-requests/${bank.id}/resolve`, {
        resolution: 'resume',
        note: 'Flag reviewed',
      })
    ).json();
    expect(resumed.state).toBe('propagating');
    expect((await app.store.findCustomer(customer.id))?.bankAccount?.maskedIban).toBe('GB29****6819');
    const audit = (
      await app.call(manager.apiKey, 'GET', `/api/v1/audit?customerId=${customer.id}&action=anomaly.flagged`)
    ).json();
    expect(audit.items[0].details).toMatchObject({ rule: 'contact_then_payment', severity: 'high' });
  });

  it('flags one device touching five customers within an hour', async () => {
    const customers = await Promise.all(Array.from({ length: 5 }, () => app.addCustomer()));
    for (const customer of customers)
      await app.call(
        representative.apiKey,
        'POST',
        '/api/v1/change-requests',
        { customerId: customer.id, changes: [{ field: 'preferredName', value: 'Remy' }] },
        { 'x-amend-device-id': 'console-7f3a' },
      );
    const flags = (
      await app.call(manager.apiKey, 'GET', '/api/v1/anomalies?rule=one_source_many_customers')
    ).json().items;
    const onDevice = flags.find((flag: { subject: string }) => flag.subject === 'device:console-7f3a');
    expect(onDevice).toMatchObject({
      severity: 'medium',
      customerId: customers[4]!.id,
      evidence: { customers: 5 },
    });
  });

  it('holds a sensitive change whose own checks failed before one passed', async () => {
    const customer = await app.addCustomer();
    const request = (
      await submit(representative, customer, [{ field: 'email', value: 'takeover@example.net' }], false)
    ).json();
    expect(await flagsOf(customer)).toEqual([]);
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${request.id}/verify`, {
      method: 'knowledge_check',
      outcome: 'failed',
      evidence: { question: 'first-school' },
    });
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${request.id}/verify`, {
      method: 'id_document',
      outcome: 'passed',
      evidence: { documentType: 'passport', documentReference: 'PZ9', checklist: { ok: true } },
    });
    const confirmed = (
      await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${request.id}/confirm`, {
        revision: 1,
      })
    ).json();
    expect(confirmed.state).toBe('escalated');
    expect(confirmed.escalation.reason).toBe('anomaly_hold');
    expect((await flagsOf(customer)).map((f: { rule: string }) => f.rule)).toEqual([
      'sensitive_after_failed_verification',
    ]);
    expect((await app.store.findCustomer(customer.id))?.email).not.toBe('takeover@example.net');
  });

  it('flags a sensitive change after failed verification', async () => {
    const customer = await app.addCustomer();
    const first = (
      await submit(representative, customer, [{ field: 'phone', value: '+61499000111' }], false)
    ).json();
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${first.id}/verify`, {
      method: 'knowledge_check',
      outcome: 'failed',
      evidence: { question: 'first-school' },
    });
    await submit(representative, customer, [{ field: 'email', value: 'new.address@example.org' }], false);
    expect((await flagsOf(customer)).map((f: { rule: string }) => f.rule)).toContain(
      'sensitive_after_failed_verification',
    );
  });
});

describe('the history the rules read', () => {
  it('is the customer’s activity inside the window, oldest first, out of forty days of entries', async () => {
    const customer = await app.addCustomer();
    const now = Date.parse(app.clock.now().toISOString());
    const at = (hoursAgo: number) => new Date(now - hoursAgo * 3_600_000).toISOString();
    // Forty days of history, one entry every eight hours: a failed check, then an unrelated entry, in turn.
    const hoursAgo = Array.from({ length: 120 }, (_, i) => (120 - i) * 8);
    await app.store.transaction(async (tx) => {
      await tx.lockCustomerForChange(customer.id, app.clock.now().toISOString());
      await tx.appendAudit(
        hoursAgo.map((hours, i) => ({
          chain: customer.id,
          occurredAt: at(hours),
          actor: SYSTEM_ACTOR,
          action: i % 2 === 0 ? 'change_request.verification_recorded' : 'customer.viewed',
          changeRequestId: null,
          details: { outcome: 'failed', hoursAgo: hours },
        })),
      );
    });
    const since = at(7 * 24);
    const expected = hoursAgo.filter((hours, i) => i % 2 === 0 && hours <= 7 * 24).map(at);
    expect(expected.length).toBeGreaterThan(5);

    const read = await app.store.customerActivity(customer.id, since);
    expect(read.map((activity) => activity.at)).toEqual(expected);
    expect(read.every((activity) => activity.kind === 'verification_failed')).toBe(true);

    const { activity } = await app.store.transaction((tx) =>
      tx.anomalyHistory({
        customerId: customer.id,
        since,
        touch: { sources: [], at: app.clock.now().toISOString(), since, cap: 5 },
      }),
    );
    expect(activity.map((each) => each.at)).toEqual(expected);
  });

  it('is what the rules read from the whole entries, though the reads ship only the parts the rules look at', async () => {
    const customer = await app.addCustomer();
    const since = app.clock.now().toISOString();
    app.clock.advance(60_000);
    // From an integration (its key a source), applied with two fields; from a representative (a staff source),
    // with a failed check.
    await submit(integration, customer, [
      { field: 'preferredName', value: 'Wren' },
      { field: 'communicationPreferences', value: { email: true, sms: false, post: false, phone: false } },
    ]);
    const staffRequest = (
      await submit(representative, customer, [{ field: 'phone', value: '+61499000222' }], false)
    ).json();
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${staffRequest.id}/verify`, {
      method: 'knowledge_check',
      outcome: 'failed',
      evidence: { question: 'first-school' },
    });
    const whole = (await app.store.openedAuditTrail(customer.id)).filter(
      (entry) => entry.occurredAt >= since,
    );
    const expected = whole.flatMap((entry) => activityFromAuditEntry(entry) ?? []);
    expect(new Set(expected.map((each) => each.kind))).toEqual(
      new Set(['received', 'applied', 'verification_failed']),
    );
    expect(expected.flatMap((each) => each.sources)).toEqual(
      expect.arrayContaining([`key:${integration.id}`, `staff:${representative.id}`]),
    );
    expect(expected.find((each) => each.kind === 'applied')?.fields).toEqual([
      'preferredName',
      'communicationPreferences',
    ]);

    expect(await app.store.customerActivity(customer.id, since)).toEqual(expected);
    const { activity } = await app.store.transaction((tx) =>
      tx.anomalyHistory({
        customerId: customer.id,
        since,
        touch: { sources: [], at: app.clock.now().toISOString(), since, cap: 5 },
      }),
    );
    expect(activity).toEqual(expected);
  });
});
