import type { RequestedChange } from '../core/change-request-fns.ts';
import type { FieldProblem } from '../core/field-validation-fns.ts';
import { checkBankAccount, checkCard } from '../core/payment-input-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { Clock, Vault } from './ports.ts';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * Replaces a typed card or bank account in the requested changes with the vault's token (procedure step 3:
 * checked here transiently — Luhn, brand, expiry; IBAN and BIC — then handed over and forgotten). Values
 * already in token form pass through.
 */
export async function tokenisePaymentDetails(
  deps: { vault: Vault; clock: Clock },
  changes: readonly RequestedChange[],
): Promise<Result<RequestedChange[]>> {
  const today = deps.clock.now().toISOString().slice(0, 10);
  const problems: FieldProblem[] = [];
  const out: RequestedChange[] = [];
  for (const [index, change] of changes.entries()) {
    const value = change.value;
    if (change.field === 'paymentMethod' && isRecord(value) && 'cardNumber' in value) {
      const card = checkCard(value, today, `changes.${index}.value`);
      if (!card.ok) {
        problems.push(...card.error);
        continue;
      }
      const { vaultToken } = await deps.vault.tokeniseCard(card.value);
      out.push({
        field: change.field,
        value: {
          vaultToken,
          brand: card.value.brand,
          last4: card.value.last4,
          expiryMonth: card.value.expiryMonth,
          expiryYear: card.value.expiryYear,
        },
      });
    } else if (change.field === 'bankAccount' && isRecord(value) && 'iban' in value) {
      const account = checkBankAccount(value, `changes.${index}.value`);
      if (!account.ok) {
        problems.push(...account.error);
        continue;
      }
      const { vaultToken } = await deps.vault.tokeniseBankAccount(account.value);
      out.push({ field: change.field, value: { vaultToken, maskedIban: account.value.maskedIban } });
    } else {
      out.push(change);
    }
  }
  return problems.length > 0
    ? fail('FIELD.INVALID', 'Some of the payment details are not valid; see errors.', { errors: problems })
    : ok(out);
}
