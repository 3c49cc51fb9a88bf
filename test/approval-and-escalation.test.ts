import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepChangeRequests } from '../src/app/sweep-change-requests.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
type Staff = { id: string; apiKey: string };
let representative: Staff;
let otherRepresentative: Staff;
let lead: Staff;
let otherLead: Staff;
let manager: Staff;

beforeAll(async () => {
  app = await createTestApp();
  representative = await app.addStaff('representative');
  otherRepresentative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
  otherLead = await app.addStaff('team_lead');
  manager = await app.addStaff('manager');
});
afterAll(() => app.close());

const call = (
  who: Staff,
  method: 'GET' | 'POST',
  url: string,
  payload?: unknown,
  headers?: Record<string, string>,
) => app.call(who.apiKey, method, url, payload, headers);

const ID_DOCUMENT = {
  method: 'id_document',
  outcome: 'passed',
  evidence: {
    documentType: 'passport',
    documentReference: 'PA1234567',
    checklist: { photoMatches: true, nameMatches: true },
  },
};

/** A legal-name change taken by `by` up to the approval step. */
async function legalNameChangeAwaitingApproval(customer: Customer, by: Staff, name = 'Ana María López Ruiz') {
  const created = await call(by, 'POST', '/api/v1/change-requests', {
    customerId: customer.id,
    changes: [{ field: 'legalName', value: name }],
    reason: 'Marriage',
  });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as string;
  expect((await call(by, 'POST', `/api/v1/change-requests/${id}/verify`, ID_DOCUMENT)).json().state).toBe(
    'awaiting_confirmation',
  );
  const confirmed = await call(by, 'POST', `/api/v1/change-requests/${id}/confirm`, { revision: 1 });
  expect(confirmed.json().state).toBe('awaiting_approval');
  return confirmed.json();
}

describe('approval deadlines and the approval queue', () => {
  it('sets the deadline in business days on the customer’s calendar, flags it overdue to managers, and lists by deadline', async () => {
    // Monday 2 November 2026, 20:00 in Melbourne; Tuesday is Melbourne Cup, a public holiday in Victoria.
    app.clock.set('2026-11-02T09:00:00.000Z');
    const victorian = await app.addCustomer();
    const londoner = await app.addCustomer({
      phone: '+442079460018',
      postalAddress: {
        lines: ['10 Downing Street'],
        locality: 'London',
        postcode: 'SW1A 2AA',
        country: 'GB',
      },
    });
    const inMelbourne = await legalNameChangeAwaitingApproval(victorian, representative);
    const inLondon = await legalNameChangeAwaitingApproval(londoner, representative, 'Oliver James Smith');
    expect(inMelbourne.approvalDueAt).toBe('2026-11-04T13:00:00.000Z'); // end of Wednesday 4 November, Melbourne
    expect(inLondon.approvalDueAt).toBe('2026-11-04T00:00:00.000Z'); // end of Tuesday 3 November, London

    const queue = (await call(lead, 'GET', '/api/v1/queues/approvals')).json();
    const ids = queue.items.map((item: { id: string }) => item.id);
    expect(ids.indexOf(inLondon.id)).toBeLessThan(ids.indexOf(inMelbourne.id));
    const firstPage = (await call(lead, 'GET', '/api/v1/queues/approvals?limit=1')).json();
    expect(firstPage.items).toHaveLength(1);
    const secondPage = (
      await call(lead, 'GET', `/api/v1/queues/approvals?limit=1&after=${firstPage.nextCursor}`)
    ).json();
    expect(secondPage.items[0].id).not.toBe(firstPage.items[0].id);
    expect((await call(lead, 'GET', '/api/v1/queues/approvals?after=garbage')).json().code).toBe(
      'REQUEST.INVALID',
    );
    expect((await call(lead, 'GET', '/api/v1/queues/approvals?overdue=true')).json().items).toHaveLength(0);

    app.clock.set('2026-11-04T06:00:00.000Z'); // London's deadline has passed; Melbourne's has not
    expect(await sweepChangeRequests(app.deps)).toEqual({
      expired: 0,
      overdue: 1,
      deadlineBreaches: 0,
      idempotentResponsesPruned: 0,
    });
    expect(await sweepChangeRequests(app.deps)).toEqual({
      expired: 0,
      overdue: 0,
      deadlineBreaches: 0,
      idempotentResponsesPruned: 0,
    });
    const overdue = (await call(manager, 'GET', '/api/v1/queues/approvals?overdue=true')).json();
    expect(overdue.items.map((item: { id: string }) => item.id)).toEqual([inLondon.id]);
    expect(overdue.items[0].approvalOverdueAt).toBe('2026-11-04T06:00:00.000Z');
    const audit = (
      await call(
        manager,
        'GET',
        `/api/v1/audit?changeRequestId=${inLondon.id}&action=change_request.approval_overdue`,
      )
    ).json();
    expect(audit.items[0].details).toMatchObject({
      approvalDueAt: '2026-11-04T00:00:00.000Z',
      escalatedTo: 'manager',
    });
    expect((await call(representative, 'GET', '/api/v1/queues/approvals')).json().code).toBe(
      'AUTH.FORBIDDEN',
    );
  });

  it('expires requests left pending past their lifetime', async () => {
    app.clock.set('2026-11-10T00:00:00.000Z');
    const customer = await app.addCustomer();
    const created = (
      await call(representative, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'phone', value: '0499 111 333' }],
      })
    ).json();
    app.clock.set('2026-11-25T00:00:00.000Z');
    const swept = await sweepChangeRequests(app.deps);
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    expect((await call(representative, 'GET', `/api/v1/change-requests/${created.id}`)).json().state).toBe(
      'expired',
    );
  });
});

describe('maker-checker', () => {
  it('refuses approval by anyone who handled the request, and by a representative', async () => {
    const customer = await app.addCustomer();
    const created = (
      await call(lead, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'legalName', value: 'Ana López Ruiz' }],
      })
    ).json();
    await call(otherLead, 'POST', `/api/v1/change-requests/${created.id}/verify`, ID_DOCUMENT);
    await call(representative, 'POST', `/api/v1/change-requests/${created.id}/confirm`, { revision: 1 });
    for (const who of [lead, otherLead])
      expect(
        (await call(who, 'POST', `/api/v1/change-requests/${created.id}/approve`, { reason: 'ok' })).json()
          .code,
      ).toBe('APPROVAL.SELF_APPROVAL');
    expect(
      (
        await call(otherRepresentative, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
          reason: 'ok',
        })
      ).json().code,
    ).toBe('AUTH.FORBIDDEN');
    const approved = await call(manager, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
      reason: 'Passport checked against the record',
    });
    expect(approved.json().state).toBe('propagating');
  });

  it('refuses an approval given for values since edited', async () => {
    const customer = await app.addCustomer();
    const waiting = await legalNameChangeAwaitingApproval(customer, representative);
    const edited = await call(representative, 'POST', `/api/v1/change-requests/${waiting.id}/edit`, {
      changes: [{ field: 'legalName', value: 'Ana María Ruiz' }],
    });
    expect(edited.json()).toMatchObject({
      state: 'awaiting_confirmation',
      revision: 2,
      approval: null,
      approvalDueAt: null,
    });
    const stale = await call(
      lead,
      'POST',
      `/api/v1/change-requests/${waiting.id}/approve`,
      { reason: 'ok' },
      { 'if-match': `"${waiting.version}"` },
    );
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('CHANGE_REQUEST.STALE');
    const early = await call(lead, 'POST', `/api/v1/change-requests/${waiting.id}/approve`, { reason: 'ok' });
    expect(early.json().code).toBe('CHANGE_REQUEST.ILLEGAL_TRANSITION');
    expect((await app.store.findCustomer(customer.id))?.legalName).toBe('Ana María López');
  });

  it('lets exactly one of two racing approvers win', async () => {
    const customer = await app.addCustomer();
    const waiting = await legalNameChangeAwaitingApproval(customer, representative);
    const answers = await Promise.all(
      [lead, otherLead].map((who) =>
        call(who, 'POST', `/api/v1/change-requests/${waiting.id}/approve`, { reason: 'Checked' }),
      ),
    );
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([200, 409]);
    expect((await app.store.findCustomer(customer.id))?.version).toBe(2);
    const approvals = (
      await call(manager, 'GET', `/api/v1/audit?changeRequestId=${waiting.id}&action=change_request.approved`)
    ).json();
    expect(approvals.items).toHaveLength(1);
  });

  it('previews the diff and evidence, and escalates instead of overwriting a value that moved', async () => {
    const customer = await app.addCustomer();
    const first = await legalNameChangeAwaitingApproval(customer, representative, 'Ana María López Ruiz');
    const preview = (await call(lead, 'GET', `/api/v1/change-requests/${first.id}/preview`)).json();
    expect(preview.changes).toEqual([
      {
        field: 'legalName',
        current: 'Ana María López',
        proposed: 'Ana María López Ruiz',
        hasMovedSinceReceived: false,
      },
    ]);
    expect(preview.verifications[0]).toMatchObject({
      method: 'id_document',
      evidence: { documentReference: 'PA1234567' },
    });

    const second = await legalNameChangeAwaitingApproval(customer, otherRepresentative, 'Ana María García');
    expect(
      (await call(manager, 'POST', `/api/v1/change-requests/${second.id}/approve`, { reason: 'ok' })).json()
        .state,
    ).toBe('propagating');
    expect(
      (await call(lead, 'GET', `/api/v1/change-requests/${first.id}/preview`)).json().changes[0]
        .hasMovedSinceReceived,
    ).toBe(true);
    const late = (
      await call(lead, 'POST', `/api/v1/change-requests/${first.id}/approve`, { reason: 'ok' })
    ).json();
    expect(late.state).toBe('escalated');
    expect(late.escalation.reason).toBe('data_discrepancy');
    expect((await app.store.findCustomer(customer.id))?.legalName).toBe('Ana María García');
  });
});

describe('escalation queue', () => {
  it('escalates with a reason, assigns, keeps notes, and resolves back into the flow or closes', async () => {
    const customer = await app.addCustomer();
    const created = (
      await call(representative, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'legalName', value: 'Ana López' }],
      })
    ).json();
    const escalated = await call(representative, 'POST', `/api/v1/change-requests/${created.id}/escalate`, {
      reason: 'conflicts_with_documentation',
      note: 'Deed poll shows a different spelling',
    });
    expect(escalated.json()).toMatchObject({
      state: 'escalated',
      escalation: { reason: 'conflicts_with_documentation', from: 'awaiting_verification' },
    });

    const queue = (
      await call(
        lead,
        'GET',
        '/api/v1/queues/escalations?reason=conflicts_with_documentation&unassigned=true',
      )
    ).json();
    expect(queue.items.map((item: { id: string }) => item.id)).toContain(created.id);
    expect(
      (
        await call(lead, 'POST', `/api/v1/change-requests/${created.id}/assign`, {
          assigneeId: representative.id,
        })
      ).json().code,
    ).toBe('REQUEST.INVALID');
    expect(
      (
        await call(representative, 'POST', `/api/v1/change-requests/${created.id}/assign`, {
          assigneeId: lead.id,
        })
      ).json().code,
    ).toBe('AUTH.FORBIDDEN');
    expect(
      (
        await call(lead, 'POST', `/api/v1/change-requests/${created.id}/assign`, { assigneeId: otherLead.id })
      ).json().assignee.id,
    ).toBe(otherLead.id);
    const mine = (
      await call(otherLead, 'GET', `/api/v1/queues/escalations?assigneeId=${otherLead.id}`)
    ).json();
    expect(mine.items.map((item: { id: string }) => item.id)).toEqual([created.id]);
    await call(otherLead, 'POST', `/api/v1/change-requests/${created.id}/notes`, {
      text: 'Called the customer; certified copy on its way',
    });
    expect(
      (await call(otherLead, 'POST', `/api/v1/change-requests/${created.id}/notes`, { text: '   ' })).json()
        .code,
    ).toBe('REQUEST.INVALID');

    const resumed = (
      await call(otherLead, 'POST', `/api/v1/change-requests/${created.id}/resolve`, {
        resolution: 'resume',
        note: 'Documents reconcile',
      })
    ).json();
    expect(resumed).toMatchObject({ state: 'awaiting_verification', escalation: null });
    expect(resumed.notes.map((note: { text: string }) => note.text)).toEqual([
      'Called the customer; certified copy on its way',
    ]);
    const history = (await call(lead, 'GET', `/api/v1/customers/${customer.id}/history`)).json();
    expect(history.auditEntries.map((entry: { action: string }) => entry.action)).toEqual(
      expect.arrayContaining([
        'change_request.escalated',
        'change_request.assigned',
        'change_request.note_added',
        'change_request.escalation_resolved',
      ]),
    );

    await call(representative, 'POST', `/api/v1/change-requests/${created.id}/escalate`, {
      reason: 'identity_unverifiable',
      note: 'Caller failed questions',
    });
    const closed = (
      await call(lead, 'POST', `/api/v1/change-requests/${created.id}/resolve`, {
        resolution: 'close',
        note: 'Asked to visit a branch with ID',
      })
    ).json();
    expect(closed.state).toBe('cancelled');
    expect(
      (
        await call(lead, 'POST', `/api/v1/change-requests/${created.id}/resolve`, {
          resolution: 'resume',
          note: 'x',
        })
      ).json().code,
    ).toBe('CHANGE_REQUEST.ILLEGAL_TRANSITION');
  });
});
