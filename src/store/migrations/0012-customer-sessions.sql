-- Customer sign-in for self-service (issue #3's recent-session method; #7 builds on it): a one-time code to
-- the email on file, then a short session. Only hashes of codes and tokens are stored.
CREATE TABLE customer_sign_in (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customer (id),
  code_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  used_at timestamptz,
  created_at timestamptz NOT NULL
);
CREATE TABLE customer_session (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customer (id),
  token_hash text NOT NULL UNIQUE,
  authenticated_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
