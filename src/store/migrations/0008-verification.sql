-- One-time codes and verification lockout (issue #3).
CREATE TABLE otp_challenge (
  id uuid PRIMARY KEY,
  change_request_id uuid NOT NULL REFERENCES change_request (id),
  customer_id uuid NOT NULL REFERENCES customer (id),
  channel text NOT NULL CHECK (channel IN ('email', 'sms')),
  -- Only the masked destination: the full one is on the customer record.
  destination_masked text NOT NULL,
  -- HMAC-SHA256 of the code with the server's key: a stolen table does not yield codes.
  code_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  used_at timestamptz,
  created_at timestamptz NOT NULL
);
CREATE INDEX otp_challenge_request_idx ON otp_challenge (change_request_id);

-- Too many failed checks lock a customer's changes for a cool-down.
CREATE TABLE verification_lock (
  customer_id uuid PRIMARY KEY REFERENCES customer (id),
  locked_until timestamptz NOT NULL,
  failures integer NOT NULL
);
