-- Identity documents (issue #3): encrypted with AES-256-GCM by the application; the key is never here.
CREATE TABLE identity_document (
  id uuid PRIMARY KEY,
  change_request_id uuid NOT NULL REFERENCES change_request (id),
  customer_id uuid NOT NULL REFERENCES customer (id),
  document_type text NOT NULL,
  content_type text NOT NULL,
  size_bytes integer NOT NULL,
  sha256 text NOT NULL,
  key_id text NOT NULL,
  iv bytea NOT NULL,
  auth_tag bytea NOT NULL,
  ciphertext bytea NOT NULL,
  uploaded_by jsonb NOT NULL,
  uploaded_at timestamptz NOT NULL,
  review jsonb
);
CREATE INDEX identity_document_request_idx ON identity_document (change_request_id);
