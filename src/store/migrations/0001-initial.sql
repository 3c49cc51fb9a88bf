-- Amend's first schema. Plain SQL that runs on PostgreSQL 15 (the server) and 18 (PGlite).
CREATE TABLE customer (
  id uuid PRIMARY KEY,
  version integer NOT NULL CHECK (version > 0),
  legal_name text NOT NULL,
  preferred_name text,
  email text,
  phone text,
  postal_address jsonb,
  date_of_birth text CHECK (date_of_birth ~ '^\d{4}-\d{2}-\d{2}$'),
  communication_preferences jsonb NOT NULL,
  payment_method jsonb,
  bank_account jsonb,
  confirmed_at jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX customer_email_idx ON customer (lower(email));
CREATE INDEX customer_phone_idx ON customer (phone);

CREATE TABLE change_request (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customer (id),
  state text NOT NULL,
  tier text NOT NULL,
  channel text NOT NULL,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  body jsonb NOT NULL
);
CREATE INDEX change_request_customer_idx ON change_request (customer_id, created_at);
CREATE INDEX change_request_state_idx ON change_request (state, updated_at);

-- The audit log: append-only, one hash chain per customer (column "chain").
CREATE TABLE audit_entry (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chain text NOT NULL,
  seq integer NOT NULL,
  occurred_at timestamptz NOT NULL,
  actor jsonb NOT NULL,
  action text NOT NULL,
  change_request_id uuid,
  details jsonb NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX audit_entry_change_request_idx ON audit_entry (change_request_id) WHERE change_request_id IS NOT NULL;
CREATE INDEX audit_entry_occurred_idx ON audit_entry (occurred_at);

-- The latest entry of each chain. Appending locks only this chain's row, so writers to
-- different customers never wait for each other.
CREATE TABLE audit_chain_head (
  chain text PRIMARY KEY,
  seq integer NOT NULL,
  hash text NOT NULL,
  checkpointed_seq integer NOT NULL DEFAULT 0
);

-- Signed statements of the heads that moved since the previous checkpoint; they chain by signature.
CREATE TABLE audit_checkpoint (
  sequence integer PRIMARY KEY,
  created_at timestamptz NOT NULL,
  previous_signature text NOT NULL,
  heads jsonb NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL
);

CREATE FUNCTION amend_refuse_audit_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
  FOR EACH ROW EXECUTE FUNCTION amend_refuse_audit_rewrite();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
  FOR EACH STATEMENT EXECUTE FUNCTION amend_refuse_audit_rewrite();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION amend_refuse_audit_rewrite();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION amend_refuse_audit_rewrite();

-- Work to do outside the transaction that decided it: propagation to connected systems, mail.
-- The retry state lives on the row; see ARCHITECTURE.md "Outbox".
CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  destination text NOT NULL,
  customer_id uuid NOT NULL,
  change_request_id uuid,
  sequence integer NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  lease_owner text,
  lease_expires_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL,
  delivered_at timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_order_idx ON outbox (customer_id, destination, id) WHERE status <> 'delivered';
CREATE INDEX outbox_change_request_idx ON outbox (change_request_id);

CREATE TABLE idempotency_key (
  principal text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  response_status integer NOT NULL,
  response_body jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (principal, key)
);

CREATE TABLE staff_user (
  id uuid PRIMARY KEY,
  email text NOT NULL UNIQUE,
  display_name text NOT NULL,
  role text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE api_key (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  role text NOT NULL,
  staff_user_id uuid REFERENCES staff_user (id),
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
