-- Anomaly flags (issue #8): raised by the rules as activity arrives, reviewed by a team lead or manager.
CREATE TABLE anomaly_flag (
  id uuid PRIMARY KEY,
  rule text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
  customer_id uuid NOT NULL,
  change_request_id uuid,
  subject text NOT NULL,
  evidence jsonb NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'confirmed')),
  raised_at timestamptz NOT NULL,
  reviewed_by jsonb,
  reviewed_at timestamptz,
  review_reason text
);
-- One open flag per rule and subject: a burst raises one flag, not one per change.
CREATE UNIQUE INDEX anomaly_flag_open_subject ON anomaly_flag (rule, subject) WHERE status = 'open';
CREATE INDEX anomaly_flag_customer_open ON anomaly_flag (customer_id) WHERE status = 'open';
CREATE INDEX anomaly_flag_raised ON anomaly_flag (raised_at, id);
CREATE INDEX change_request_created_idx ON change_request (created_at);
