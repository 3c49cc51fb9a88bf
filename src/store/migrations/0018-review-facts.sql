-- Issue #9: the completeness review (procedure step 8.1) over a month of a million applied changes in seconds.
-- It read each request's body and evaluated it in Node, ~25 µs a request. Now PostgreSQL keeps, beside each
-- request, the few facts of its body the review asks about, and the review groups the month's requests by
-- them: the core evaluates each group once (core/procedure-review-fns.ts) and lists the members of a group only
-- when the group falls short. Generated from the body, so the facts cannot drift from it, even when a row is
-- edited by hand: that is what the review exists to catch.
ALTER TABLE change_request
  -- The verification methods that passed.
  ADD COLUMN passed_methods jsonb
    GENERATED ALWAYS AS (jsonb_path_query_array(body, '$.verifications[*] ? (@.outcome == "passed").method')) STORED,
  ADD COLUMN is_revert boolean GENERATED ALWAYS AS (jsonb_path_exists(body, '$.revertOf ? (@ != null)')) STORED,
  -- A read-back of the revision that was applied.
  ADD COLUMN is_read_back boolean
    GENERATED ALWAYS AS (jsonb_path_exists(body, '$ ? ($.readBack.revision == $.revision)')) STORED,
  -- Who approved it (null: nobody did), their role, and whether they also handled it: asked for it, processed
  -- it, recorded a verification or confirmed the read-back (the ids ChangeRequest.processedBy documents).
  ADD COLUMN approver_id text
    GENERATED ALWAYS AS (jsonb_path_query_first(body, '$.approval ? (@.decision == "approved").approver.id') #>> '{}') STORED,
  ADD COLUMN approver_role text
    GENERATED ALWAYS AS (jsonb_path_query_first(body, '$.approval ? (@.decision == "approved").approver.role') #>> '{}') STORED,
  ADD COLUMN is_approver_handler boolean
    GENERATED ALWAYS AS (jsonb_path_exists(body, '$ ? ($.approval.approver.id == $.requester.id
      || $.approval.approver.id == $.processedBy[*]
      || $.approval.approver.id == $.verifications[*].recordedBy.id
      || $.approval.approver.id == $.readBack.confirmedBy.id)')) STORED;

-- Index-only reads for the review: the month's applied entries with their requests, the requests' facts, and
-- the requests' deliveries. Each replaces an index on the same leading columns; the outbox's plain index on
-- change_request_id goes, as the wider one serves its lookups. The outbox index also carries what the report's
-- propagation figures read (created_at, status), so they scan it rather than every payload in the table.
CREATE INDEX change_request_review_idx ON change_request (id)
  INCLUDE (customer_id, fields, passed_methods, is_revert, is_read_back, approver_id, approver_role, is_approver_handler);
DROP INDEX audit_entry_action_idx;
CREATE INDEX audit_entry_action_idx ON audit_entry (action, occurred_at) INCLUDE (change_request_id);
DROP INDEX outbox_kind_change_request_idx;
DROP INDEX outbox_change_request_idx;
CREATE INDEX outbox_kind_change_request_idx ON outbox (change_request_id, kind)
  INCLUDE (destination, confirmed_at, created_at, status);
-- The report counts the month's missed opt-out deadlines; it scanned the whole outbox to find the few.
CREATE INDEX outbox_deadline_breach_idx ON outbox (deadline_breached_at) WHERE deadline_breached_at IS NOT NULL;
