import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepChangeRequests } from '../src/app/sweep-change-requests.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
let representative: { id: string; apiKey: string };
let lead: { id: string; apiKey: string };
let secondLead: { id: string; apiKey: string };
let integration: { id: string; apiKey: string };

beforeAll(async () => {
  app = await createTestApp();
  representative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
  secondLead = await app.addStaff('team_lead');
  integration = await app.addIntegration();
});
afterAll(() => app.close());

const call = (
  apiKey: string,
  method: 'GET' | 'POST',
  url: string,
  payload?: unknown,
  headers?: Record<string, string>,
) => app.call(apiKey, method, url, payload, headers);

describe('change requests over HTTP', () => {
  it('applies an integration’s confirmed basic change at once and propagates it', async () => {
    const customer = await app.addCustomer();
    const response = await call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'communicationPreferences', value: { sms: true } }],
      confirmSubmittedValues: true,
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.state).toBe('propagating');
    expect(body.tier).toBe('basic');
    expect(body.connectedSystems).toEqual(['marketing']);
    const stored = await app.store.findCustomer(customer.id);
    expect(stored?.communicationPreferences.sms).toMatchObject({ isGranted: true, source: 'api' });
    expect(stored?.version).toBe(2);
    const detail = (await call(integration.apiKey, 'GET', `/api/v1/change-requests/${body.id}`)).json();
    expect(detail.timeline.map((entry: { action: string }) => entry.action)).toEqual([
      'change_request.received',
      'change_request.received',
      'change_request.verification_satisfied',
      'change_request.read_back_confirmed',
      'change_request.applied',
      'change_request.propagation_started',
    ]);
    expect(detail.propagation).toEqual([
      expect.objectContaining({ destination: 'marketing', status: 'pending' }),
    ]);
  });

  it('walks a phone change through verification and read-back', async () => {
    const customer = await app.addCustomer();
    const created = await call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'phone', value: '0499 111 222' }],
      channel: 'phone',
      reason: 'New mobile',
    });
    expect(created.statusCode).toBe(201);
    const request = created.json();
    expect(request.state).toBe('awaiting_verification');
    expect(request.items[0].proposed).toBe('+61499111222');
    expect(request.nextSteps[0]).toContain('knowledge_check + account_fact');

    const early = await call(representative.apiKey, 'POST', `/api/v1/change-requests/${request.id}/confirm`, {
      revision: 1,
    });
    expect(early.statusCode).toBe(409);
    expect(early.headers['content-type']).toContain('application/problem+json');
    expect(early.json().code).toBe('CHANGE_REQUEST.ILLEGAL_TRANSITION');

    const knowledge = await call(
      representative.apiKey,
      'POST',
      `/api/v1/change-requests/${request.id}/verify`,
      {
        method: 'knowledge_check',
        outcome: 'passed',
        evidence: { question: 'first-school' },
      },
    );
    expect(knowledge.json().state).toBe('awaiting_verification');
    const fact = await call(representative.apiKey, 'POST', `/api/v1/change-requests/${request.id}/verify`, {
      method: 'account_fact',
      outcome: 'passed',
      evidence: { fact: 'postcode' },
    });
    expect(fact.json().state).toBe('awaiting_confirmation');
    const confirmed = await call(
      representative.apiKey,
      'POST',
      `/api/v1/change-requests/${request.id}/confirm`,
      { revision: 1 },
      { 'if-match': '"3"' },
    );
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json().state).toBe('propagating');
    expect((await app.store.findCustomer(customer.id))?.phone).toBe('+61499111222');
  });

  it('enforces maker-checker on a legal name change', async () => {
    const customer = await app.addCustomer();
    const created = (
      await call(lead.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'legalName', value: 'Ana María López Ruiz' }],
        reason: 'Marriage',
      })
    ).json();
    expect(created.tier).toBe('legal');
    const otp = await call(lead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/verify`, {
      method: 'otp_on_file',
      outcome: 'passed',
      evidence: { channel: 'sms', destination: '+61412345678' },
    });
    expect(otp.json().code).toBe('VERIFICATION.METHOD_NOT_ATTESTABLE');
    const document = await call(
      representative.apiKey,
      'POST',
      `/api/v1/change-requests/${created.id}/verify`,
      {
        method: 'id_document',
        outcome: 'passed',
        evidence: {
          documentType: 'marriage_certificate',
          documentReference: 'MC-2026-118',
          checklist: { nameMatches: true },
        },
      },
    );
    expect(document.json().state).toBe('awaiting_confirmation');
    const confirmed = await call(
      representative.apiKey,
      'POST',
      `/api/v1/change-requests/${created.id}/confirm`,
      { revision: 1 },
    );
    expect(confirmed.json().state).toBe('awaiting_approval');

    const byRequester = await call(lead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
      reason: 'ok',
    });
    expect(byRequester.statusCode).toBe(403);
    expect(byRequester.json().code).toBe('APPROVAL.SELF_APPROVAL');
    const byRepresentative = await call(
      representative.apiKey,
      'POST',
      `/api/v1/change-requests/${created.id}/approve`,
      { reason: 'ok' },
    );
    expect(byRepresentative.json().code).toBe('AUTH.FORBIDDEN');
    const approved = await call(secondLead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
      reason: 'Certificate checked',
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json().state).toBe('propagating');
    expect((await app.store.findCustomer(customer.id))?.legalName).toBe('Ana María López Ruiz');

    const audit = (
      await call(
        secondLead.apiKey,
        'GET',
        `/api/v1/audit?changeRequestId=${created.id}&action=change_request.applied`,
      )
    ).json();
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0].details).toMatchObject({
      changes: [{ field: 'legalName', old: 'A*** M*** L***', new: 'A*** M*** L*** R***' }],
      approvedBy: secondLead.id,
      approvalReason: 'Certificate checked',
      reason: 'Marriage',
      readBackBy: representative.id,
      verifiedBy: [{ verificationId: expect.any(String), method: 'id_document', by: representative.id }],
    });
  });

  it('honours Idempotency-Key', async () => {
    const customer = await app.addCustomer();
    const body = {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Annie' }],
      confirmSubmittedValues: true,
    };
    const first = await call(integration.apiKey, 'POST', '/api/v1/change-requests', body, {
      'idempotency-key': 'k-1',
    });
    const again = await call(integration.apiKey, 'POST', '/api/v1/change-requests', body, {
      'idempotency-key': 'k-1',
    });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    const other = await call(
      integration.apiKey,
      'POST',
      '/api/v1/change-requests',
      { ...body, changes: [{ field: 'preferredName', value: 'Ana' }] },
      { 'idempotency-key': 'k-1' },
    );
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('IDEMPOTENCY.KEY_REUSED');
    const list = (
      await call(integration.apiKey, 'GET', `/api/v1/change-requests?customerId=${customer.id}`)
    ).json();
    expect(list.items).toHaveLength(1);
  });

  it('answers an Idempotency-Key’s first response for a day, then forgets the key and its stored response', async () => {
    const customer = await app.addCustomer();
    const post = (value: string) =>
      call(
        integration.apiKey,
        'POST',
        '/api/v1/change-requests',
        {
          customerId: customer.id,
          changes: [{ field: 'preferredName', value }],
          confirmSubmittedValues: true,
        },
        { 'idempotency-key': 'k-day' },
      );
    const stored = async () =>
      (
        await sql<{
          count: number;
        }>`SELECT count(*)::int AS count FROM idempotency_key WHERE key = 'k-day'`.execute(app.database.db)
      ).rows[0]!.count;
    const first = (await post('Dana')).json();
    app.clock.advance(23 * 3_600_000);
    expect((await sweepChangeRequests(app.deps)).idempotentResponsesPruned).toBe(0);
    expect((await post('Dana')).json()).toEqual(first);
    expect((await post('Dani')).json().code).toBe('IDEMPOTENCY.KEY_REUSED');

    app.clock.advance(2 * 3_600_000);
    expect((await sweepChangeRequests(app.deps)).idempotentResponsesPruned).toBeGreaterThanOrEqual(1);
    expect(await stored()).toBe(0);
    const later = await post('Dani');
    expect(later.statusCode).toBe(201);
    expect(later.json().id).not.toBe(first.id);
    expect(await stored()).toBe(1);
  });

  it('does the work of one request for concurrent retries with the same Idempotency-Key', async () => {
    const customer = await app.addCustomer();
    const body = {
      customerId: customer.id,
      // A legal name waits for documents and approval, so a second copy would be a second open request.
      changes: [{ field: 'legalName', value: 'Annie Concurrent' }],
      reason: 'Marriage',
      confirmSubmittedValues: true,
    };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(integration.apiKey, 'POST', '/api/v1/change-requests', body, { 'idempotency-key': 'k-same' }),
      ),
    );
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(8).fill(201));
    expect(new Set(answers.map((answer) => answer.json().id)).size).toBe(1);
    const list = (
      await call(integration.apiKey, 'GET', `/api/v1/change-requests?customerId=${customer.id}`)
    ).json();
    expect(list.items).toHaveLength(1);
    const received = await app.store.listAudit({
      chain: customer.id,
      action: 'change_request.received',
      limit: 100,
    });
    expect(new Set(received.entries.map((entry) => entry.changeRequestId)).size).toBe(1);
  });

  it('answers bad input with problem+json and changes nothing', async () => {
    const customer = await app.addCustomer();
    const cases = [
      { payload: { customerId: customer.id, changes: [] }, code: 'REQUEST.INVALID', status: 400 },
      {
        payload: { customerId: 'not-a-uuid', changes: [{ field: 'phone', value: '1' }] },
        code: 'REQUEST.INVALID',
        status: 400,
      },
      {
        payload: { customerId: customer.id, changes: [{ field: 'shoeSize', value: 9 }] },
        code: 'REQUEST.INVALID',
        status: 400,
      },
      {
        payload: { customerId: customer.id, changes: [{ field: 'email', value: 'not an email' }] },
        code: 'FIELD.INVALID',
        status: 422,
      },
      {
        payload: { customerId: customer.id, changes: [{ field: 'phone', value: '+61412345678' }] },
        code: 'FIELD.UNCHANGED',
        status: 422,
      },
      {
        payload: {
          customerId: '018f0000-0000-7000-8000-000000000000',
          changes: [{ field: 'phone', value: '0499 111 222' }],
        },
        code: 'CUSTOMER.NOT_FOUND',
        status: 404,
      },
    ];
    for (const { payload, code, status } of cases) {
      const response = await call(representative.apiKey, 'POST', '/api/v1/change-requests', payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().code).toBe(code);
    }
    const malformed = await app.server.inject({
      method: 'POST',
      url: '/api/v1/change-requests',
      payload: '{"customerId":',
      headers: { authorization: `Bearer ${representative.apiKey}`, 'content-type': 'application/json' },
    });
    expect(malformed.json().code).toBe('REQUEST.INVALID');
    const unauthenticated = await app.server.inject({
      method: 'GET',
      url: `/api/v1/customers/${customer.id}`,
    });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json().code).toBe('AUTH.UNAUTHENTICATED');
    const list = (
      await call(representative.apiKey, 'GET', `/api/v1/change-requests?customerId=${customer.id}`)
    ).json();
    expect(list.items).toHaveLength(0);
    expect((await app.store.findCustomer(customer.id))?.version).toBe(1);
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const document = (await app.server.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(document.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v1/change-requests',
      '/api/v1/change-requests/{id}',
      '/api/v1/change-requests/{id}/verify',
      '/api/v1/change-requests/{id}/confirm',
      '/api/v1/change-requests/{id}/approve',
      '/api/v1/change-requests/{id}/reject',
      '/api/v1/change-requests/{id}/cancel',
      '/api/v1/customers/{id}',
      '/api/v1/customers/{id}/history',
      '/api/v1/audit',
    ])
      expect(document.paths, path).toHaveProperty([path]);
    expect(JSON.stringify(document.paths['/api/v1/change-requests'].post.requestBody)).toContain(
      '#/components/schemas/SubmitChangeRequest',
    );
    expect(Object.keys(document.components.schemas.SubmitChangeRequestInput.properties)).toContain(
      'confirmSubmittedValues',
    );
    expect(document.components.schemas.Problem.properties.code).toBeDefined();
  });
});
