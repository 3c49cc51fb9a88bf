-- Approval and escalation queues (issue #4): the columns they filter and order by, beside the stored body.
ALTER TABLE change_request ADD COLUMN approval_due_at timestamptz;
ALTER TABLE change_request ADD COLUMN assignee_id text;
ALTER TABLE change_request ADD COLUMN escalation_reason text;
ALTER TABLE change_request ADD COLUMN escalated_at timestamptz;

CREATE INDEX change_request_approval_queue_idx ON change_request (approval_due_at, id) WHERE state = 'awaiting_approval';
CREATE INDEX change_request_escalation_queue_idx ON change_request (escalated_at, id) WHERE state = 'escalated';
CREATE INDEX change_request_expiry_idx ON change_request (expires_at)
  WHERE state IN ('received', 'awaiting_verification', 'awaiting_confirmation', 'awaiting_approval', 'returned_for_clarification', 'rejected');
