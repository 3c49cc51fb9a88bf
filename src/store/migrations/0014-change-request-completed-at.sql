-- Issue #9: when a request completed, as a column beside its body. The monthly report's processing times,
-- its quality-review sample and /metrics' processing histogram read `body->>'completedAt'`, which no index
-- serves: every report and every scrape parsed the body of every request ever made. The index carries
-- created_at, so the processing time (completed_at - created_at) comes from the index alone.
ALTER TABLE change_request ADD COLUMN completed_at timestamptz;
UPDATE change_request SET completed_at = (body->>'completedAt')::timestamptz WHERE body->>'completedAt' IS NOT NULL;
CREATE INDEX change_request_completed_idx ON change_request (completed_at) INCLUDE (created_at)
  WHERE completed_at IS NOT NULL;
