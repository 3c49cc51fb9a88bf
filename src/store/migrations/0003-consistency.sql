-- Proof of consistency (issue #5): how each delivery was confirmed, drift seen, legal deadlines, manual tasks.
ALTER TABLE outbox ADD COLUMN confirmed_at timestamptz;
ALTER TABLE outbox ADD COLUMN confirmation text CHECK (confirmation IN ('read_back', 'acknowledged', 'attested'));
ALTER TABLE outbox ADD COLUMN drift_count integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN deadline_at timestamptz;
ALTER TABLE outbox ADD COLUMN deadline_breached_at timestamptz;
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE status = 'dead';
CREATE INDEX outbox_deadline_idx ON outbox (deadline_at) WHERE deadline_at IS NOT NULL AND confirmed_at IS NULL AND deadline_breached_at IS NULL;

-- Connected systems without an API: a person enters the values and attests it.
CREATE TABLE manual_task (
  id uuid PRIMARY KEY,
  outbox_id bigint NOT NULL UNIQUE REFERENCES outbox (id),
  system text NOT NULL,
  customer_id uuid NOT NULL,
  change_request_id uuid,
  field_values jsonb NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
  created_at timestamptz NOT NULL,
  attested_by jsonb,
  attested_at timestamptz,
  evidence text
);
CREATE INDEX manual_task_open_idx ON manual_task (created_at, id) WHERE status = 'open';
