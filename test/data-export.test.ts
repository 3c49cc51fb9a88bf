import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

describe('data subject access (GDPR Art. 15)', () => {
  it('exports everything held about a customer as JSON, opened from encryption, and audits the export', async () => {
    const customer = await app.addCustomer({ email: 'export.me@example.com', legalName: 'Export Person' });
    const integration = await app.addIntegration();
    const lead = await app.addStaff('team_lead');
    const representative = await app.addStaff('representative');
    expect(
      (
        await app.call(lead.apiKey, 'PUT', `/api/v1/customers/${customer.id}/security-questions`, {
          questions: [{ question: 'Name of your first school?', answer: 'Hillside' }],
        })
      ).statusCode,
    ).toBe(200);
    const applied = await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Expo' }],
      confirmSubmittedValues: true,
    });
    expect(applied.json().state).toBe('propagating');
    // A sensitive change: its proposed value is sealed in the audit log and must come back opened.
    const pending = await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'email', value: 'export.new@example.com' }],
      confirmSubmittedValues: true,
    });
    expect(pending.statusCode).toBe(201);

    const manager = await app.addStaff('manager');
    const response = await app.call(manager.apiKey, 'GET', `/api/v1/customers/${customer.id}/export`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toBe(
      `attachment; filename="customer-${customer.id}.json"`,
    );
    const body = response.json();
    expect(body.customer).toMatchObject({
      id: customer.id,
      legalName: 'Export Person',
      preferredName: 'Expo',
    });
    expect(body.changeRequests.map((request: { id: string }) => request.id).sort()).toEqual(
      [applied.json().id, pending.json().id].sort(),
    );
    expect(new Set(body.recipients.map((r: { destination: string }) => r.destination))).toEqual(
      new Set(['billing', 'marketing']),
    );
    // Read for all the customer's requests at once: each message still belongs to the request that sent it.
    expect(new Set(body.recipients.map((r: { changeRequestId: string }) => r.changeRequestId))).toEqual(
      new Set([applied.json().id]),
    );
    expect(body.securityQuestions).toEqual([
      { question: 'Name of your first school?', setAt: expect.any(String) },
    ]);
    const text = JSON.stringify(body);
    expect(text).not.toContain('answerHash');
    expect(text).not.toContain('$sealed');
    expect(text).toContain('export.new@example.com');
    const actions = body.auditTrail.map((entry: { action: string }) => entry.action);
    expect(actions).toContain('change_request.applied');
    expect(actions.at(-1)).toBe('customer.exported');
    expect(body.auditTrail.at(-1).actor).toMatchObject({ kind: 'staff', id: manager.id });

    // The customer may export their own data; the read is audited all the same.
    const own = await app.call(
      await app.customerSession(customer.id),
      'GET',
      `/api/v1/customers/${customer.id}/export`,
    );
    expect(own.statusCode).toBe(200);
    const exports = await app.store.listAudit({ chain: customer.id, action: 'customer.exported', limit: 5 });
    expect(exports.entries.map((entry) => entry.actor.kind)).toEqual(['staff', 'customer']);
    expect(
      (await app.call(manager.apiKey, 'GET', `/api/v1/customers/${randomUUID()}/export`)).json().code,
    ).toBe('CUSTOMER.NOT_FOUND');
  });
});
