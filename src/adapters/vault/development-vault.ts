import { randomBytes } from 'node:crypto';
import type { Clock, Store, Vault } from '../../app/ports.ts';

/**
 * The built-in development vault: issues tokens and keeps what may be shown (brand, last 4, expiry; masked
 * IBAN) — never the card number or the full IBAN, which it simply forgets. A twin of a real provider's vault.
 */
export function createDevelopmentVault(deps: {
  store: Pick<Store, 'insertVaultToken'>;
  clock: Clock;
}): Vault {
  const token = (prefix: string) => `${prefix}_${randomBytes(16).toString('hex')}`;
  return {
    async tokeniseCard(card) {
      const vaultToken = token('vcard');
      await deps.store.insertVaultToken({
        token: vaultToken,
        kind: 'card',
        brand: card.brand,
        last4: card.last4,
        expiryMonth: card.expiryMonth,
        expiryYear: card.expiryYear,
        at: deps.clock.now().toISOString(),
      });
      return { vaultToken };
    },
    async tokeniseBankAccount(account) {
      const vaultToken = token('vbank');
      await deps.store.insertVaultToken({
        token: vaultToken,
        kind: 'bank_account',
        maskedIban: account.maskedIban,
        at: deps.clock.now().toISOString(),
      });
      return { vaultToken };
    },
  };
}
