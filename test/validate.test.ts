import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Customer } from '../src/core/customer-types.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
let representative: { id: string; apiKey: string };
let customer: Customer;
let neighbour: Customer;

beforeAll(async () => {
  app = await createTestApp();
  representative = await app.addStaff('representative');
  customer = await app.addCustomer({ email: 'own.address@example.com', phone: '+61412000111' });
  neighbour = await app.addCustomer({ email: 'taken@example.com', phone: '+61412000222' });
});
afterAll(() => app.close());

const validate = (body: Record<string, unknown>) =>
  app.call(representative.apiKey, 'POST', '/api/v1/validate', body);

describe('POST /api/v1/validate', () => {
  it.each([
    [{ field: 'phone', value: '0412 345 678', country: 'AU' }, true, '+61412345678'],
    [{ field: 'email', value: ' Kim@Example.COM ' }, true, 'Kim@example.com'],
    [
      {
        field: 'postalAddress',
        value: { lines: ['1 Main St'], locality: 'Sydney', region: 'NSW', postcode: '200', country: 'AU' },
      },
      false,
      null,
    ],
    [
      {
        field: 'paymentMethod',
        value: { cardNumber: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: 2030 },
      },
      true,
      { brand: 'visa', last4: '4242', expiryMonth: 12, expiryYear: 2030 },
    ],
    [
      {
        field: 'paymentMethod',
        value: { cardNumber: '5555 5555 5555 4444', expiryMonth: 1, expiryYear: 2031 },
      },
      true,
      { brand: 'mastercard', last4: '4444', expiryMonth: 1, expiryYear: 2031 },
    ],
    [
      {
        field: 'paymentMethod',
        value: { cardNumber: '4242 4242 4242 4241', expiryMonth: 12, expiryYear: 2030 },
      },
      false,
      null,
    ],
    [
      { field: 'paymentMethod', value: { cardNumber: '4242424242424242', expiryMonth: 1, expiryYear: 2026 } },
      false,
      null,
    ],
    [
      { field: 'bankAccount', value: { iban: 'gb29 nwbk 6016 1331 9268 19', bic: 'nwbkgb2l' } },
      true,
      { maskedIban: 'GB29 **** **** **** **68 19', bic: 'NWBKGB2L' },
    ],
    [
      { field: 'bankAccount', value: { iban: 'DE89370400440532013000' } },
      true,
      { maskedIban: 'DE89 **** **** **** **30 00', bic: null },
    ],
    [{ field: 'bankAccount', value: { iban: 'GB29NWBK60161331926818' } }, false, null],
    [{ field: 'bankAccount', value: { iban: 'GB29NWBK60161331926819', bic: 'NOTABIC' } }, false, null],
  ])('%j → valid %s', async (body, valid, normalized) => {
    const response = await validate(body);
    expect(response.statusCode).toBe(200);
    const result = response.json();
    expect(result.valid).toBe(valid);
    expect(result.normalized).toEqual(normalized);
    if (!valid)
      expect(result.errors[0]).toMatchObject({
        reason: expect.any(String),
        path: expect.stringMatching(/^value/),
        message: expect.any(String),
      });
    expect(response.body).not.toContain('4242 4242 4242');
    expect(response.body).not.toContain('60161331926819');
  });

  it('knows a mobile from a landline', async () => {
    expect((await validate({ field: 'phone', value: '0412 345 678', country: 'AU' })).json().lineType).toBe(
      'mobile',
    );
    expect((await validate({ field: 'phone', value: '(02) 9374 4000', country: 'AU' })).json().lineType).toBe(
      'fixed_line',
    );
    expect((await validate({ field: 'phone', value: '020 7946 0018', country: 'GB' })).json().lineType).toBe(
      'fixed_line',
    );
    expect((await validate({ field: 'phone', value: '+1 212 555 0123' })).json().lineType).toBe(
      'fixed_line_or_mobile',
    );
  });

  it('warns about throwaway domains, values already on file, and contact points another customer holds', async () => {
    expect(
      (await validate({ field: 'email', value: 'someone@mailinator.com' })).json().warnings[0].reason,
    ).toBe('EMAIL.DISPOSABLE');
    expect(
      (await validate({ field: 'email', value: 'own.address@example.com', customerId: customer.id })).json()
        .warnings[0].reason,
    ).toBe('FIELD.UNCHANGED');
    const taken = (await validate({ field: 'phone', value: '0412 000 222', customerId: customer.id })).json();
    expect(taken).toMatchObject({ valid: true, normalized: '+61412000222' });
    expect(taken.warnings.map((w: { reason: string }) => w.reason)).toEqual(['CONTACT.IN_USE']);
    expect(taken.warnings[0].message).not.toContain(neighbour.id);
  });

  it('refuses a malformed request with problem+json', async () => {
    const response = await validate({ field: 'shoeSize', value: 9 });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('REQUEST.INVALID');
  });
});

describe('contact points identify one customer', () => {
  it('escalates a change to an email another customer already holds, never applying it silently', async () => {
    const created = (
      await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'email', value: 'TAKEN@example.com' }],
      })
    ).json();
    expect(created.state).toBe('escalated');
    expect(created.escalation.reason).toBe('data_discrepancy');
    expect(created.escalation.note).toContain(neighbour.id);
  });
});

describe('cards and bank accounts in change requests go to the vault', () => {
  it('keeps only the token, brand, last 4 and expiry; the number is nowhere in storage', async () => {
    const customer2 = await app.addCustomer();
    const response = await app.call(
      representative.apiKey,
      'POST',
      '/api/v1/change-requests',
      {
        customerId: customer2.id,
        changes: [
          {
            field: 'paymentMethod',
            value: { cardNumber: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: 2030 },
          },
        ],
      },
      { 'idempotency-key': 'card-1' },
    );
    expect(response.statusCode, response.body).toBe(201);
    const proposed = response.json().items[0].proposed;
    expect(proposed).toMatchObject({
      brand: 'visa',
      last4: '4242',
      expiryMonth: 12,
      expiryYear: 2030,
      vaultToken: expect.stringMatching(/^vcard_[0-9a-f]{32}$/),
    });
    const { sql } = await import('kysely');
    const everywhere = await sql<{ text: string }>`
      SELECT body::text AS text FROM change_request
      UNION ALL SELECT details::text FROM audit_entry
      UNION ALL SELECT request_hash || response_body::text FROM idempotency_key
      UNION ALL SELECT coalesce(brand, '') || coalesce(last4, '') FROM vault_token`.execute(app.database.db);
    const dump = everywhere.rows.map((row) => row.text).join('\n');
    expect(dump).not.toContain('4242424242424242');
    expect(dump).not.toContain('4242 4242 4242 4242');
    expect(dump).toContain('visa4242');

    const bank = (
      await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer2.id,
        changes: [{ field: 'bankAccount', value: { iban: 'GB29 NWBK 6016 1331 9268 19' } }],
      })
    ).json();
    expect(bank.items[0].proposed).toEqual({
      vaultToken: expect.stringMatching(/^vbank_/),
      maskedIban: 'GB29 **** **** **** **68 19',
    });
  });

  it('refuses a card that fails Luhn, naming the field, and creates nothing', async () => {
    const customer3 = await app.addCustomer();
    const response = await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer3.id,
      changes: [
        {
          field: 'paymentMethod',
          value: { cardNumber: '4242 4242 4242 4241', expiryMonth: 12, expiryYear: 2030 },
        },
      ],
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({
      code: 'FIELD.INVALID',
      errors: [{ reason: 'CARD.NUMBER', path: 'changes.0.value.cardNumber' }],
    });
    expect(response.body).not.toContain('4241');
    expect(
      (
        await app.call(representative.apiKey, 'GET', `/api/v1/change-requests?customerId=${customer3.id}`)
      ).json().items,
    ).toEqual([]);
  });
});
