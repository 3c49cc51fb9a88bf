import type { Customer } from './customer-types.ts';

export const ACCOUNT_FACTS = ['dateOfBirth', 'postcode', 'paymentLast4'] as const;
export type AccountFact = (typeof ACCOUNT_FACTS)[number];

const normalise = (text: string) => text.trim().toUpperCase().replace(/\s+/g, '');

/**
 * Compares what the customer said with the record (procedure step 2.2). Answers null when the record holds
 * nothing to compare with, so that fact cannot be used.
 * @example checkAccountFact(customer, 'postcode', ' 3053 ') // true
 */
export function checkAccountFact(customer: Customer, fact: AccountFact, answer: string): boolean | null {
  const onFile =
    fact === 'dateOfBirth'
      ? customer.dateOfBirth
      : fact === 'postcode'
        ? (customer.postalAddress?.postcode ?? null)
        : (customer.paymentMethod?.last4 ?? null);
  if (!onFile) return null;
  return normalise(onFile) === normalise(answer);
}
