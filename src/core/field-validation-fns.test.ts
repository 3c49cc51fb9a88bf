import { describe, expect, it } from 'vitest';
import type { FieldName } from './customer-types.ts';
import { validateFieldValue } from './field-validation-fns.ts';

const context = (defaultCountry: string | null = 'AU') => ({ defaultCountry, today: '2026-11-02' });

// Real-world values from several countries: [field, input, default country, normalised result or error reason].
const CASES: [FieldName, unknown, string | null, { ok: unknown } | { reason: string }][] = [
  ['email', ' Ana.Lopez@Example.COM ', null, { ok: 'Ana.Lopez@example.com' }],
  ['email', 'josé@bücher.de', null, { ok: 'josé@bücher.de' }],
  ['email', "o'neil@example.ie", null, { ok: "o'neil@example.ie" }],
  ['email', 'two@@example.com', null, { reason: 'EMAIL.SYNTAX' }],
  ['email', 'no-at-sign.example.com', null, { reason: 'EMAIL.SYNTAX' }],
  ['email', 'a@b', null, { reason: 'EMAIL.SYNTAX' }],
  ['phone', '0412 345 678', 'AU', { ok: '+61412345678' }],
  ['phone', '(02) 9374 4000', 'AU', { ok: '+61293744000' }],
  ['phone', '020 7946 0018', 'GB', { ok: '+442079460018' }],
  ['phone', '+1 (212) 555-0123', 'AU', { ok: '+12125550123' }],
  ['phone', '+49 30 901820', null, { ok: '+4930901820' }],
  ['phone', '12345', 'AU', { reason: 'PHONE.INVALID' }],
  ['phone', 'call me', 'AU', { reason: 'PHONE.SYNTAX' }],
  [
    'postalAddress',
    { lines: [' 10  Downing Street '], locality: 'london', postcode: 'sw1a 2aa', country: 'gb' },
    null,
    {
      ok: {
        lines: ['10 Downing Street'],
        locality: 'london',
        region: null,
        postcode: 'SW1A 2AA',
        country: 'GB',
      },
    },
  ],
  [
    'postalAddress',
    { lines: ['1 Main St'], locality: 'Springfield', region: 'il', postcode: '62701', country: 'US' },
    null,
    { ok: { lines: ['1 Main St'], locality: 'Springfield', region: 'IL', postcode: '62701', country: 'US' } },
  ],
  [
    'postalAddress',
    { lines: ['1 Main St'], locality: 'Sydney', region: 'NSW', postcode: '20000', country: 'AU' },
    null,
    { reason: 'ADDRESS.POSTCODE' },
  ],
  [
    'postalAddress',
    { lines: ['1 Main St'], locality: 'Sydney', postcode: '2000', country: 'AU' },
    null,
    { reason: 'ADDRESS.REGION' },
  ],
  [
    'postalAddress',
    { lines: ['1 Main St'], locality: 'X', postcode: '1', country: 'ZZ' },
    null,
    { reason: 'ADDRESS.COUNTRY' },
  ],
  ['legalName', '  Zoë   O’Brien-Łukasiewicz ', null, { ok: 'Zoë O’Brien-Łukasiewicz' }],
  ['legalName', '李小龍', null, { ok: '李小龍' }],
  ['legalName', 'Robert ); DROP TABLE', null, { reason: 'NAME.CHARACTERS' }],
  ['legalName', '   ', null, { reason: 'NAME.EMPTY' }],
  ['dateOfBirth', '1984-03-09', null, { ok: '1984-03-09' }],
  ['dateOfBirth', '2030-01-01', null, { reason: 'DATE.FUTURE' }],
  ['dateOfBirth', '09/03/1984', null, { reason: 'DATE.SYNTAX' }],
  ['communicationPreferences', { sms: true, post: false }, null, { ok: { sms: true, post: false } }],
  ['communicationPreferences', { sms: 'yes' }, null, { reason: 'PREFERENCES.SHAPE' }],
  ['communicationPreferences', {}, null, { reason: 'PREFERENCES.EMPTY' }],
  [
    'paymentMethod',
    { vaultToken: 'tok_12345678', brand: 'VISA', last4: '4242', expiryMonth: 12, expiryYear: 2030 },
    null,
    { ok: { vaultToken: 'tok_12345678', brand: 'visa', last4: '4242', expiryMonth: 12, expiryYear: 2030 } },
  ],
  [
    'paymentMethod',
    { vaultToken: 'tok_12345678', brand: 'visa', last4: '4242', expiryMonth: 10, expiryYear: 2026 },
    null,
    { reason: 'PAYMENT.EXPIRED' },
  ],
  ['paymentMethod', { number: '4242424242424242' }, null, { reason: 'PAYMENT.SHAPE' }],
  [
    'bankAccount',
    { vaultToken: 'tok_bank_1234', maskedIban: 'GB29****6819' },
    null,
    { ok: { vaultToken: 'tok_bank_1234', maskedIban: 'GB29****6819' } },
  ],
  [
    'bankAccount',
    { vaultToken: 'tok_bank_1234', maskedIban: 'GB29 NWBK 6016 1331 9268 19' },
    null,
    { ok: { vaultToken: 'tok_bank_1234', maskedIban: 'GB29 NWBK 6016 1331 9268 19' } },
  ],
];

describe('field validation', () => {
  it.each(CASES)('%s %j (%s)', (field, input, country, expected) => {
    const result = validateFieldValue(field, input, context(country));
    if ('ok' in expected) {
      expect(result).toEqual({ ok: true, value: expected.ok });
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.map((problem) => problem.reason)).toContain(expected.reason);
    }
  });
});
