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
