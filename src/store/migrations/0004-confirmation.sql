-- Confirmation to the customer, "this wasn't me" and revert (issue #6).

-- A customer frozen by a security case: no change but the revert goes through until a team lead resolves it.
ALTER TABLE customer ADD COLUMN security_hold jsonb;

CREATE INDEX outbox_kind_change_request_idx ON outbox (change_request_id, kind);

-- One signed, single-use "this wasn't me" link per confirmation sent.
CREATE TABLE not_me_link (
  id uuid PRIMARY KEY,
  change_request_id uuid NOT NULL REFERENCES change_request (id),
  customer_id uuid NOT NULL REFERENCES customer (id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);

-- A suspected unauthorised change, for a team lead: high priority, resolved by reverting or clearing it.
CREATE TABLE security_case (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customer (id),
  change_request_id uuid NOT NULL REFERENCES change_request (id),
  kind text NOT NULL,
  priority text NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'resolved')),
  opened_at timestamptz NOT NULL,
  link_id uuid,
  revert_request_id uuid,
  resolved_at timestamptz,
  resolved_by jsonb,
  resolution text,
  note text
);
CREATE INDEX security_case_open_idx ON security_case (opened_at) WHERE status = 'open';
CREATE UNIQUE INDEX security_case_one_open_per_change ON security_case (change_request_id) WHERE status = 'open';

-- The built-in mail catcher: outgoing mail kept here when no SMTP server is configured (the embedded default).
CREATE TABLE mail_message (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL,
  recipient text NOT NULL,
  subject text NOT NULL,
  text_body text NOT NULL,
  html_body text NOT NULL,
  change_request_id uuid
);
CREATE INDEX mail_message_created_idx ON mail_message (created_at, id);
