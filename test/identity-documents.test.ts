import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, defaultPolicy, type TestApp } from './support/test-app.ts';

let app: TestApp;
let representative: { id: string; apiKey: string };
let lead: { id: string; apiKey: string };

beforeAll(async () => {
  app = await createTestApp();
  representative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
});
afterAll(() => app.close());

const MARKER = 'PASSPORT-NUMBER-PA7654321';
// A PNG signature and header chunk, then recognisable bytes: what a scan starts like.
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]),
  Buffer.alloc(64, 7),
  Buffer.from(MARKER),
]);

function multipart(fields: Record<string, string>, file: { name: string; type: string; bytes: Buffer }) {
  const boundary = '----amend-test-boundary';
  const parts = [
    ...Object.entries(fields).map(([name, value]) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    ),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
    ),
    file.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ];
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

const upload = (
  requestId: string,
  fields: Record<string, string>,
  file: { name: string; type: string; bytes: Buffer },
) => {
  const body = multipart(fields, file);
  return app.server.inject({
    method: 'POST',
    url: `/api/v1/change-requests/${requestId}/documents`,
    payload: body.payload,
    headers: { ...body.headers, authorization: `Bearer ${representative.apiKey}` },
  });
};

describe('identity documents', () => {
  it('accepts a scan by its content, stores it encrypted, audits every opening, and turns an accepted review into the verification', async () => {
    const customer = await app.addCustomer();
    const request = (
      await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'legalName', value: 'Ana María Ruiz' }],
      })
    ).json();

    const disguised = await upload(
      request.id,
      { documentType: 'passport' },
      { name: 'scan.pdf', type: 'application/pdf', bytes: Buffer.from('just some text, not a PDF') },
    );
    expect(disguised.statusCode).toBe(415);
    expect(disguised.json().code).toBe('DOCUMENT.TYPE_NOT_ACCEPTED');
    const tooLarge = await upload(
      request.id,
      { documentType: 'passport' },
      { name: 'big.png', type: 'image/png', bytes: Buffer.concat([png, Buffer.alloc(11 * 1024 * 1024)]) },
    );
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().code).toBe('REQUEST.TOO_LARGE');

    const uploaded = await upload(
      request.id,
      { documentType: 'passport' },
      { name: 'photo.jpg', type: 'image/jpeg', bytes: png },
    );
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    expect(uploaded.json()).toMatchObject({
      contentType: 'image/png',
      documentType: 'passport',
      sizeBytes: png.length,
    });
    const documentId = uploaded.json().id;
    const stored = await sql<{
      ciphertext: Buffer;
    }>`SELECT ciphertext FROM identity_document WHERE id = ${documentId}`.execute(app.database.db);
    expect(Buffer.from(stored.rows[0]!.ciphertext).includes(Buffer.from(MARKER))).toBe(false);

    const opened = await app.server.inject({
      method: 'GET',
      url: `/api/v1/documents/${documentId}/content`,
      headers: { authorization: `Bearer ${lead.apiKey}` },
    });
    expect(opened.headers['content-type']).toBe('image/png');
    expect(opened.rawPayload.equals(png)).toBe(true);

    const incomplete = await app.call(lead.apiKey, 'POST', `/api/v1/documents/${documentId}/review`, {
      decision: 'accepted',
      checklist: { photoMatches: true, notExpired: false },
    });
    expect(incomplete.json().code).toBe('VERIFICATION.EVIDENCE_MISSING');
    const accepted = await app.call(lead.apiKey, 'POST', `/api/v1/documents/${documentId}/review`, {
      decision: 'accepted',
      checklist: { photoMatches: true, nameMatches: true, notExpired: true },
    });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json().state).toBe('awaiting_confirmation');
    expect(
      (
        await app.call(lead.apiKey, 'POST', `/api/v1/documents/${documentId}/review`, {
          decision: 'rejected',
          checklist: { photoMatches: false },
        })
      ).json().code,
    ).toBe('DOCUMENT.ALREADY_REVIEWED');
    const actions = (await app.call(lead.apiKey, 'GET', `/api/v1/audit?changeRequestId=${request.id}`))
      .json()
      .items.map((entry: { action: string }) => entry.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'verification.document_uploaded',
        'verification.document_viewed',
        'change_request.verification_satisfied',
      ]),
    );
  });
});

describe('supporting documents the policy asks for', () => {
  it('returns a request for clarification listing the missing document, and moves it on when one is uploaded', async () => {
    const policy = defaultPolicy();
    const strict = await createTestApp({
      policy: {
        ...policy,
        fields: {
          ...policy.fields,
          legalName: {
            ...policy.fields.legalName,
            supportingDocuments: ['marriage_certificate', 'deed_poll'],
          },
        },
      },
    });
    try {
      const staff = await strict.addStaff('representative');
      const customer = await strict.addCustomer();
      const created = (
        await strict.call(staff.apiKey, 'POST', '/api/v1/change-requests', {
          customerId: customer.id,
          changes: [{ field: 'legalName', value: 'Ana María Ruiz' }],
        })
      ).json();
      expect(created.state).toBe('returned_for_clarification');
      expect(created.missing).toEqual([
        'legalName: a supporting document (marriage certificate or deed poll)',
      ]);
      const send = (type: string) => {
        const body = multipart({ documentType: type }, { name: 'scan.png', type: 'image/png', bytes: png });
        return strict.server.inject({
          method: 'POST',
          url: `/api/v1/change-requests/${created.id}/documents`,
          payload: body.payload,
          headers: { ...body.headers, authorization: `Bearer ${staff.apiKey}` },
        });
      };
      expect((await send('passport')).statusCode).toBe(201);
      expect(
        (await strict.call(staff.apiKey, 'GET', `/api/v1/change-requests/${created.id}`)).json(),
      ).toMatchObject({ state: 'returned_for_clarification' });
      expect((await send('deed_poll')).statusCode).toBe(201);
      const after = (await strict.call(staff.apiKey, 'GET', `/api/v1/change-requests/${created.id}`)).json();
      expect(after).toMatchObject({ state: 'awaiting_verification', missing: [] });
      expect(after.timeline.map((entry: { action: string }) => entry.action)).toContain(
        'change_request.document_supplied',
      );
    } finally {
      await strict.close();
    }
  });
});
