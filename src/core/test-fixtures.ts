// Shared fixtures for the core's own tests (imported only by *.test.ts files).

import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { newCustomer } from './customer-fns.ts';
import type { Customer, FieldName } from './customer-types.ts';
import { parsePolicy } from './policy-fns.ts';
import type { Policy } from './policy-types.ts';

export const NOW = '2026-11-02T09:00:00.000Z';

export function loadDefaultPolicy(): Policy {
  const parsed = parsePolicy(
    YAML.parse(readFileSync(new URL('../../policy/default-policy.yaml', import.meta.url), 'utf8')),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

export function sampleCustomer(id = '018f3a2b-0000-7000-8000-000000000001'): Customer {
  const built = newCustomer(
    {
      legalName: 'Ana María López',
      email: 'ana@example.com',
      phone: '+61412345678',
      postalAddress: {
        lines: ['12 Example Street'],
        locality: 'Carlton',
        region: 'VIC',
        postcode: '3053',
        country: 'AU',
      },
      dateOfBirth: '1984-03-09',
      communicationPreferences: { email: true, sms: false },
    },
    { id, now: '2026-01-01T00:00:00.000Z', source: 'test' },
  );
  if (!built.ok) throw new Error(JSON.stringify(built.error));
  return built.value;
}

/** A valid new value for every field, different from `sampleCustomer`'s. */
export const NEW_VALUES: Readonly<Record<FieldName, unknown>> = {
  legalName: 'Ana María López Ruiz',
  preferredName: 'Annie',
  email: 'ana.new@example.org',
  phone: '+61499111222',
  postalAddress: {
    lines: ['1 New Road'],
    locality: 'Fitzroy',
    region: 'VIC',
    postcode: '3065',
    country: 'AU',
  },
  dateOfBirth: '1984-03-10',
  communicationPreferences: { sms: true },
  paymentMethod: {
    vaultToken: 'tok_visa_12345678',
    brand: 'visa',
    last4: '4242',
    expiryMonth: 12,
    expiryYear: 2030,
  },
  bankAccount: { vaultToken: 'tok_bank_12345678', maskedIban: 'GB29****6819' },
};
