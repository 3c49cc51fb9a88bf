-- The built-in development vault (issue #3): what a payment provider would answer for a token. Never a card
-- number or a full IBAN; in production a real provider's vault replaces it (see the Vault port).
CREATE TABLE vault_token (
  token text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('card', 'bank_account')),
  brand text,
  last4 text,
  expiry_month integer,
  expiry_year integer,
  masked_iban text,
  created_at timestamptz NOT NULL
);
