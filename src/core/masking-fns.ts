import { type Customer, FIELD_NAMES, type FieldName } from './customer-types.ts';
import type { Policy } from './policy-types.ts';

/** Values of sensitive- and legal-tier fields are shown in full only where the read is audited. */
export const isMaskedField = (policy: Policy, field: FieldName): boolean => {
  const tier = policy.fields[field].tier;
  return tier === 'sensitive' || tier === 'legal';
};

/** A customer as lists and search results show it: sensitive and legal values masked (full reads are audited). */
export function maskedCustomer(customer: Customer, policy: Policy): Customer {
  const masked: Record<string, unknown> = { ...customer };
  for (const field of FIELD_NAMES)
    if (isMaskedField(policy, field)) masked[field] = maskFieldValue(field, customer[field]);
  return masked as unknown as Customer;
}

/**
 * A value as shown where the full value is not needed: audit details, confirmations, logs.
 * @example maskFieldValue('email', 'ana.lopez@example.com') // 'a***@example.com'
 */
export function maskFieldValue(field: FieldName, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  switch (field) {
    case 'email': {
      const text = String(value);
      const at = text.lastIndexOf('@');
      return at > 0 ? `${text[0]}***${text.slice(at)}` : '***';
    }
    case 'phone': {
      const text = String(value);
      return `${'*'.repeat(Math.max(0, text.length - 3))}${text.slice(-3)}`;
    }
    case 'legalName':
      return String(value)
        .split(' ')
        .map((word) => `${[...word][0] ?? ''}***`)
        .join(' ');
    case 'dateOfBirth':
      return '****-**-**';
    case 'paymentMethod': {
      const card = value as { brand?: string; last4?: string; expiryMonth?: number; expiryYear?: number };
      return {
        brand: card.brand,
        last4: card.last4,
        expiryMonth: card.expiryMonth,
        expiryYear: card.expiryYear,
      };
    }
    case 'bankAccount':
      return { maskedIban: (value as { maskedIban?: string }).maskedIban };
    default:
      return value;
  }
}
