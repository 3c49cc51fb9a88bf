-- Which customers each source (ip:…, key:…, device:…, staff:…) touched, and when last: the anomaly rule
-- "one source touching many customers" counts recent rows here, capped at its threshold, instead of scanning
-- every recent change request. Rows older than a day are pruned by the worker's sweep.
CREATE TABLE source_touch (
  source text NOT NULL,
  customer_id uuid NOT NULL,
  last_at timestamptz NOT NULL,
  PRIMARY KEY (source, customer_id)
);
CREATE INDEX source_touch_recent_idx ON source_touch (source, last_at);
