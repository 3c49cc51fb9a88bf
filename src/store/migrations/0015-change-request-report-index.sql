-- Issue #9: the monthly report's volume figures from one index. The fields a request changes, as a column
-- beside its body, and an index on created_at that carries tier, channel and fields: the month's total and its
-- counts by tier, channel and field are index-only scans, where counting by field unnested every body of the
-- month (a million bodies read to count a few names). It replaces the plain created_at index.
ALTER TABLE change_request ADD COLUMN fields text[];
UPDATE change_request
  SET fields = ARRAY(SELECT item->>'field' FROM jsonb_array_elements(body->'items') AS item);
ALTER TABLE change_request ALTER COLUMN fields SET NOT NULL;
CREATE INDEX change_request_month_idx ON change_request (created_at) INCLUDE (tier, channel, fields);
DROP INDEX change_request_created_idx;
