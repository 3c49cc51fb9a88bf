-- Issue #7, security baseline.

-- Staff sign-in: argon2id password, TOTP second factor (secret sealed with the data key), lockout with back-off.
ALTER TABLE staff_user
  ADD COLUMN password_hash text,
  ADD COLUMN totp_secret text,
  ADD COLUMN totp_last_step bigint,
  ADD COLUMN failed_sign_ins integer NOT NULL DEFAULT 0,
  ADD COLUMN locked_until timestamptz;

-- Browser sessions: only hashes of the session and CSRF tokens are stored.
CREATE TABLE staff_session (
  id uuid PRIMARY KEY,
  staff_user_id uuid NOT NULL REFERENCES staff_user (id),
  token_hash text NOT NULL UNIQUE,
  csrf_hash text NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX staff_session_user_idx ON staff_session (staff_user_id) WHERE revoked_at IS NULL;

-- API keys may be narrowed to a list of actions (docs/roles.md); NULL means everything the role allows.
ALTER TABLE api_key ADD COLUMN scopes jsonb, ADD COLUMN last_used_at timestamptz;

-- Personal fields at rest: one AES-256-GCM value per customer (key id inside), blind indexes for lookups.
-- Rows written before this migration keep their clear columns until `amend keys rotate` (run at start) seals them.
ALTER TABLE customer
  ADD COLUMN sealed text,
  ADD COLUMN key_id text,
  ADD COLUMN email_index text,
  ADD COLUMN phone_index text,
  ALTER COLUMN legal_name DROP NOT NULL;
DROP INDEX customer_email_idx;
DROP INDEX customer_phone_idx;
CREATE INDEX customer_email_index_idx ON customer (email_index);
CREATE INDEX customer_phone_index_idx ON customer (phone_index);
CREATE INDEX customer_key_id_idx ON customer (key_id);
