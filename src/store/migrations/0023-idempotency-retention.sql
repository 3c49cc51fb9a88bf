-- Stored idempotent responses answer retries for a day (the API's replay window), then the sweep deletes them,
-- oldest first, a batch at a time: they hold the request's values (sealed), and kept for good they would grow
-- with every request made with a key. This index finds the expired ones without reading the table.
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);
