import cardValidator from 'card-validator';
import { electronicFormatIBAN, isValidBIC, isValidIBAN } from 'ibantools';
import { z } from 'zod';
import type { FieldProblem } from './field-validation-fns.ts';
import { ok, type Result } from './result.ts';

/** A card as a person types it. Checked here, handed to the vault, never stored or logged. */
export const CardInputSchema = z.strictObject({
  cardNumber: z.string().min(12).max(23),
  expiryMonth: z.number().int().min(1).max(12),
  expiryYear: z.number().int().min(2000).max(2100),
});
export type CardInput = z.infer<typeof CardInputSchema>;

export const BankInputSchema = z.strictObject({
  iban: z.string().min(15).max(42),
  bic: z.string().min(8).max(11).optional(),
});
export type BankInput = z.infer<typeof BankInputSchema>;

const problem = (reason: string, path: string, message: string): FieldProblem => ({ reason, path, message });

/**
 * Checks a typed card (Luhn, brand, expiry) and answers only what may be kept: brand, last 4, expiry.
 * @example checkCard({ cardNumber: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: 2030 }, '2026-11-23') // ok({ brand: 'visa', last4: '4242', … })
 */
export function checkCard(
  raw: unknown,
  today: string,
  path = 'value',
): Result<
  { brand: string; last4: string; expiryMonth: number; expiryYear: number; digits: string },
  FieldProblem[]
> {
  const parsed = CardInputSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: [problem('CARD.SHAPE', path, 'Give cardNumber, expiryMonth and expiryYear.')],
    };
  const digits = parsed.data.cardNumber.replace(/[\s-]/g, '');
  const number = cardValidator.number(digits);
  if (!/^\d+$/.test(digits) || !number.isValid || !number.card)
    return {
      ok: false,
      error: [
        problem('CARD.NUMBER', `${path}.cardNumber`, 'This card number is not valid; check the digits.'),
      ],
    };
  const [year, month] = today.split('-').map(Number) as [number, number];
  if (parsed.data.expiryYear < year || (parsed.data.expiryYear === year && parsed.data.expiryMonth < month))
    return {
      ok: false,
      error: [problem('PAYMENT.EXPIRED', `${path}.expiryYear`, 'The card has expired; use a current card.')],
    };
  return ok({
    brand: number.card.type,
    last4: digits.slice(-4),
    expiryMonth: parsed.data.expiryMonth,
    expiryYear: parsed.data.expiryYear,
    digits,
  });
}

/** Checks an IBAN (and BIC, when given) and answers the electronic form for the vault and a masked form to keep. */
export function checkBankAccount(
  raw: unknown,
  path = 'value',
): Result<{ iban: string; bic: string | null; maskedIban: string }, FieldProblem[]> {
  const parsed = BankInputSchema.safeParse(raw);
  if (!parsed.success)
    return { ok: false, error: [problem('BANK.SHAPE', path, 'Give the iban (and optionally the bic).')] };
  const iban = electronicFormatIBAN(parsed.data.iban) ?? '';
  if (!isValidIBAN(iban))
    return {
      ok: false,
      error: [
        problem(
          'BANK.IBAN',
          `${path}.iban`,
          'This IBAN is not valid; check the country code, check digits and length.',
        ),
      ],
    };
  const bic = parsed.data.bic?.toUpperCase().replace(/\s/g, '') ?? null;
  if (bic && !isValidBIC(bic))
    return {
      ok: false,
      error: [
        problem(
          'BANK.BIC',
          `${path}.bic`,
          'This BIC is not valid; it has 8 or 11 characters, e.g. NWBKGB2L.',
        ),
      ],
    };
  // Country and check digits, and the last four: enough to recognise the account, not to use it.
  const masked = `${iban.slice(0, 4)}${'*'.repeat(iban.length - 8)}${iban.slice(-4)}`;
  const maskedIban = masked.replace(/(.{4})(?=.)/g, '$1 ');
  return ok({ iban, bic, maskedIban });
}

/** Warnings: valid, but worth a second look before confirming. */
export function fieldWarnings(
  field: string,
  normalized: unknown,
  context: { isDisposableDomain: (domain: string) => boolean },
): FieldProblem[] {
  if (field === 'email' && typeof normalized === 'string') {
    const domain = normalized.slice(normalized.lastIndexOf('@') + 1);
    if (context.isDisposableDomain(domain))
      return [
        problem(
          'EMAIL.DISPOSABLE',
          'value',
          `${domain} hands out throwaway addresses; ask for an address the customer keeps.`,
        ),
      ];
  }
  return [];
}
