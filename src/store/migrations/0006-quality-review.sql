-- Quality review (issue #8): a manager samples completed requests and marks errors; the accuracy rate's source.
CREATE TABLE quality_review (
  change_request_id uuid PRIMARY KEY REFERENCES change_request (id),
  reviewed_by jsonb NOT NULL,
  reviewed_at timestamptz NOT NULL,
  has_error boolean NOT NULL,
  note text
);
CREATE INDEX quality_review_reviewed_idx ON quality_review (reviewed_at);
CREATE INDEX audit_entry_action_idx ON audit_entry (action, occurred_at);
