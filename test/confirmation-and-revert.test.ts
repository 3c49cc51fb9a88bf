import { sql } from 'kysely';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectedSystems } from '../src/adapters/connectors/connected-systems-config.ts';
import { createSmtpMailer } from '../src/adapters/mail/smtp-mailer.ts';
import type { ConnectedSystem } from '../src/app/ports.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { type SampleSystem, startSampleSystem } from '../src/demo/sample-connected-system.ts';
import { createOutboxWorker } from '../src/worker/outbox-worker.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/** A real SMTP server on loopback: it refuses mailboxes starting with "bounce", keeps everything else, parsed. */
const inbox: ParsedMail[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith('bounce'))
      return callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
    callback();
  },
  onData(stream, _session, callback) {
    simpleParser(stream).then((mail) => {
      inbox.push(mail);
      callback();
    }, callback);
  },
});

let app: TestApp;
let mailer: ReturnType<typeof createSmtpMailer>;
const samples: Record<string, SampleSystem> = {};
let systems: Map<string, ConnectedSystem>;
type Staff = { id: string; apiKey: string };
let representative: Staff;
let lead: Staff;

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as { port: number }).port;
  mailer = createSmtpMailer(`smtp://127.0.0.1:${port}`, 'Amend <no-reply@amend.test>');
  app = await createTestApp({ mailer });
  representative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
  for (const name of ['billing', 'shipping', 'marketing'])
    samples[name] = await startSampleSystem({ name, secret: `${name}-secret` });
  const built = buildConnectedSystems(
    {
      systems: Object.values(samples).map((s) => ({
        id: s.name,
        kind: 'webhook',
        url: `${s.url()}/hooks/amend`,
        secret: `${s.name}-secret`,
        readBackUrl: `${s.url()}/customers/{customerId}`,
      })),
    },
    app.policy,
    'test',
    app.deps,
  );
  if (!built.ok) throw new Error(built.error.message);
  systems = built.value;
});

afterAll(async () => {
  mailer.close();
  await Promise.all(Object.values(samples).map((s) => s.close()));
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await app.close();
});

async function drain() {
  const worker = createOutboxWorker({
    ...app.deps,
    systems,
    retry: { baseDelayMs: 1000, maxDelayMs: 5000, horizonMs: 3_600_000 },
  });
  for (let round = 0; round < 40; round += 1) {
    if ((await worker.runOnce()) === 0) {
      app.clock.advance(10_000);
      if ((await worker.runOnce()) === 0) return;
    }
  }
}

const ID_DOCUMENT = {
  method: 'id_document',
  outcome: 'passed',
  evidence: { documentType: 'passport', documentReference: 'PA7', checklist: { photoMatches: true } },
};

/** A representative takes a change through verification and read-back; answers the request. */
async function change(customer: Customer, changes: { field: string; value: unknown }[]) {
  const created = (
    await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes,
    })
  ).json();
  expect(created.id, JSON.stringify(created)).toBeDefined();
  await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/verify`, ID_DOCUMENT);
  const confirmed = (
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/confirm`, {
      revision: 1,
    })
  ).json();
  if (confirmed.state === 'awaiting_approval')
    await app.call(lead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
      reason: 'Checked',
    });
  await drain();
  return (await app.call(representative.apiKey, 'GET', `/api/v1/change-requests/${created.id}`)).json();
}

const mailTo = (address: string) =>
  inbox.filter(
    (mail) => mail.to && !Array.isArray(mail.to) && mail.to.value.some((to) => to.address === address),
  );
const notMeToken = (mail: ParsedMail) =>
  /\/not-me\/([0-9a-f-]{36}\.[A-Za-z0-9_-]+)/.exec(mail.text ?? '')![1]!;

describe('confirmation to the customer', () => {
  it('confirms an email change to both the old and the new address, masked, with a sign-in reminder, then completes', async () => {
    const customer = await app.addCustomer({ email: 'ana.old@example.com' });
    const request = await change(customer, [{ field: 'email', value: 'ana.new@example.org' }]);
    expect(request.state).toBe('completed');
    const [toNew] = mailTo('ana.new@example.org');
    const [toOld] = mailTo('ana.old@example.com');
    expect(toNew?.subject).toBe('Your details have been updated');
    expect(toNew?.text).toContain('Email address: a***@example.org');
    expect(toNew?.text).toContain('From now on, sign in and receive our emails at ana.new@example.org.');
    expect(toNew?.text).toContain('as authorised by phone with our team');
    expect(toNew?.text).toMatch(/Call us on 1300 555 010 or write to help@amend\.test/);
    expect(toNew?.html).toContain("This wasn't me");
    expect(toOld?.text).toContain('This address is no longer on your account');
    expect(toOld?.text).not.toContain('ana.new@example.org');
    expect(notMeToken(toNew!)).not.toBe(notMeToken(toOld!));
    const timeline = request.timeline.map((entry: { action: string }) => entry.action);
    expect(timeline).toEqual(
      expect.arrayContaining(['confirmation.queued', 'confirmation.sent', 'change_request.completed']),
    );
  });

  it('masks payment details and writes in the customer’s English', async () => {
    const customer = await app.addCustomer({
      email: 'sam.jones@example.com',
      phone: '+12125550123',
      postalAddress: {
        lines: ['1 Main St'],
        locality: 'Springfield',
        region: 'IL',
        postcode: '62701',
        country: 'US',
      },
    });
    await change(customer, [
      {
        field: 'paymentMethod',
        value: {
          vaultToken: 'tok_visa_98765432',
          brand: 'visa',
          last4: '4242',
          expiryMonth: 12,
          expiryYear: 2030,
        },
      },
    ]);
    const [mail] = mailTo('sam.jones@example.com');
    expect(mail?.text).toContain('Payment card: Visa ending 4242, expires 12/2030');
    expect(mail?.text).not.toContain('tok_visa_98765432');
    expect(mail?.text).toContain('as authorized by phone');
    expect(mail?.text).toMatch(/On November \d{1,2}, 2026/);
  });

  it('escalates a request whose confirmation the mail server refuses', async () => {
    const customer = await app.addCustomer({ email: 'bounce.me@example.com' });
    const request = await change(customer, [{ field: 'preferredName', value: 'Bea' }]);
    expect(request.state).toBe('escalated');
    expect(request.escalation.reason).toBe('confirmation_undeliverable');
    expect(request.timeline.map((entry: { action: string }) => entry.action)).toContain(
      'confirmation.failed',
    );
  });
});

describe('the customer’s values at rest', () => {
  /** The tables whose rows, as text, hold `value`. */
  async function tablesHolding(value: string): Promise<string[]> {
    const { rows } = await sql<{ table: string }>`
      SELECT table_name AS table FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`.execute(
      app.database.db,
    );
    const holding: string[] = [];
    for (const { table } of rows) {
      const { rows: hits } = await sql<{ hits: number }>`
        SELECT count(*)::int AS hits FROM ${sql.table(table)} AS row WHERE strpos(row::text, ${value}) > 0`.execute(
        app.database.db,
      );
      if (hits[0]!.hits > 0) holding.push(table);
    }
    return holding;
  }

  it('keeps a change’s values sealed in its request and its deliveries, which still reach every system', async () => {
    const customer = await app.addCustomer({ email: 'orla.quist@example.net' });
    const created = (
      await app.call(
        representative.apiKey,
        'POST',
        '/api/v1/change-requests',
        {
          customerId: customer.id,
          changes: [
            { field: 'email', value: 'orla.vantongeren@example.org' },
            { field: 'phone', value: '+61412777313' },
          ],
          reason: 'Married Saoirse',
        },
        { 'idempotency-key': 'at-rest-1' },
      )
    ).json();
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/verify`, {
      ...ID_DOCUMENT,
      evidence: { ...ID_DOCUMENT.evidence, documentReference: 'QX8817342' },
    });
    await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/confirm`, {
      revision: 1,
    });
    await drain();
    const done = (
      await app.call(representative.apiKey, 'GET', `/api/v1/change-requests/${created.id}`)
    ).json();
    expect(done.state).toBe('completed');
    expect(done.reason).toBe('Married Saoirse');
    expect(samples.billing!.records.get(customer.id)?.fields).toMatchObject({
      email: 'orla.vantongeren@example.org',
      phone: '+61412777313',
    });
    expect(samples.marketing!.records.get(customer.id)?.fields.email).toBe('orla.vantongeren@example.org');

    // A sensitive value, old or new, is in clear nowhere: the audit log masks it and seals it beside the mask.
    expect(await tablesHolding('orla.vantongeren')).toEqual([]);
    expect(await tablesHolding('orla.quist')).toEqual([]);
    // What the audit log shows by policy (a standard field's values, the evidence, the reason) it alone holds.
    expect(await tablesHolding('412777313')).toEqual(['audit_entry']);
    expect(await tablesHolding('QX8817342')).toEqual(['audit_entry']);
    expect(await tablesHolding('Saoirse')).toEqual(['audit_entry']);
  });
});

describe('"this wasn’t me" and revert', () => {
  it('refuses altered links, freezes on one click, refuses reuse and expiry, and reverts everywhere with one action', async () => {
    const customer = await app.addCustomer({ email: 'kim.lee@example.com', phone: '+61412345678' });
    const original = await change(customer, [
      { field: 'email', value: 'attacker@example.net' },
      { field: 'phone', value: '+61499999999' },
    ]);
    expect(original.state).toBe('completed');
    for (const system of ['billing', 'shipping'])
      expect(samples[system]!.records.get(customer.id)?.fields.phone).toBe('+61499999999');
    const toOld = mailTo('kim.lee@example.com')[0]!;
    const toNew = mailTo('attacker@example.net')[0]!;
    const token = notMeToken(toOld);
    const json = { accept: 'application/json' };

    const [linkId, signature] = token.split('.');
    const altered = await app.server.inject({
      method: 'POST',
      url: `/not-me/${linkId}.${signature!.slice(0, -2)}AA`,
      headers: json,
    });
    expect(altered.statusCode).toBe(404);
    expect(altered.json().code).toBe('NOT_ME.LINK_INVALID');
    const otherId = await app.server.inject({
      method: 'POST',
      url: `/not-me/${notMeToken(toNew).split('.')[0]}.${signature}`,
      headers: json,
    });
    expect(otherId.json().code).toBe('NOT_ME.LINK_INVALID');

    const page = await app.server.inject({ method: 'GET', url: `/not-me/${token}` });
    expect(page.body).toContain('<form method="post">');
    expect((await app.store.findCustomer(customer.id))?.freeze).toBeNull();

    const report = await app.server.inject({ method: 'POST', url: `/not-me/${token}`, headers: json });
    expect(report.statusCode).toBe(200);
    expect(report.json().whatHappensNext[0]).toBe('We have stopped all changes to your account.');
    const { caseId } = report.json();
    expect((await app.store.findCustomer(customer.id))?.freeze?.caseId).toBe(caseId);
    expect((await app.store.findChangeRequest(original.id))?.suspectedUnauthorisedAt).not.toBeNull();
    const reused = await app.server.inject({ method: 'POST', url: `/not-me/${token}`, headers: json });
    expect(reused.json().code).toBe('NOT_ME.LINK_USED');
    const blocked = await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Kimmy' }],
    });
    expect(blocked.statusCode).toBe(423);
    expect(blocked.json().code).toBe('CUSTOMER.FROZEN');
    const cases = (await app.call(lead.apiKey, 'GET', '/api/v1/cases')).json();
    expect(cases.items.find((item: { id: string }) => item.id === caseId)).toMatchObject({
      priority: 'high',
      status: 'open',
      changeRequestId: original.id,
    });

    expect(
      (await app.call(representative.apiKey, 'POST', `/api/v1/cases/${caseId}/revert`)).json().code,
    ).toBe('AUTH.FORBIDDEN');
    const revert = await app.call(lead.apiKey, 'POST', `/api/v1/cases/${caseId}/revert`);
    expect(revert.statusCode, revert.body).toBe(200);
    expect(revert.json()).toMatchObject({
      revertOf: original.id,
      state: 'propagating',
      requester: { id: lead.id },
    });
    await drain();
    const reverted = await app.store.findCustomer(customer.id);
    expect(reverted).toMatchObject({ email: 'kim.lee@example.com', phone: '+61412345678' });
    for (const system of ['billing', 'shipping'])
      expect(samples[system]!.records.get(customer.id)?.fields.phone).toBe('+61412345678');
    expect(samples.billing!.records.get(customer.id)?.fields.email).toBe('kim.lee@example.com');
    expect(samples.marketing!.records.get(customer.id)?.fields.email).toBe('kim.lee@example.com');
    expect((await app.store.findChangeRequest(original.id))?.state).toBe('reverted');
    expect((await app.store.findChangeRequest(revert.json().id))?.state).toBe('completed');
    expect(mailTo('kim.lee@example.com').length).toBe(2);
    expect((await app.call(lead.apiKey, 'POST', `/api/v1/cases/${caseId}/revert`)).json().code).toBe(
      'CASE.NOT_OPEN',
    );

    const resolved = await app.call(lead.apiKey, 'POST', `/api/v1/cases/${caseId}/resolve`, {
      resolution: 'reverted',
      note: 'Customer confirmed by phone',
    });
    expect(resolved.json()).toMatchObject({ status: 'resolved', resolution: 'reverted' });
    expect((await app.store.findCustomer(customer.id))?.freeze).toBeNull();
    const allowed = await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Kimmy' }],
    });
    expect(allowed.statusCode).toBe(201);

    app.clock.advance(31 * 24 * 60 * 60 * 1000);
    const expired = await app.server.inject({
      method: 'POST',
      url: `/not-me/${notMeToken(toNew)}`,
      headers: json,
    });
    expect(expired.statusCode).toBe(410);
    expect(expired.json().code).toBe('NOT_ME.LINK_EXPIRED');
    const expiredPage = await app.server.inject({ method: 'POST', url: `/not-me/${notMeToken(toNew)}` });
    expect(expiredPage.headers['content-type']).toContain('text/html');
    expect(expiredPage.body).toContain('This link has expired');
  });
});
