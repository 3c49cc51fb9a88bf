import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

/** Timestamps go in as ISO strings and come out as Date; repos convert back to ISO strings. */
type Timestamp = ColumnType<Date, string, string>;
/** jsonb columns are written as JSON text so node-postgres and PGlite serialise them alike. */
type Json<T> = ColumnType<T, string, string>;

export interface CustomerTable {
  id: string;
  version: number;
  legal_name: string | null;
  preferred_name: string | null;
  email: string | null;
  phone: string | null;
  postal_address: Json<unknown> | null;
  date_of_birth: string | null;
  communication_preferences: Json<unknown>;
  payment_method: Json<unknown> | null;
  bank_account: Json<unknown> | null;
  confirmed_at: Json<Record<string, string | null>>;
  security_hold: Json<unknown> | null;
  /** The personal fields, sealed (see FieldCipher); the clear columns above are null once sealed. */
  sealed: string | null;
  key_id: string | null;
  email_index: string | null;
  phone_index: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface NotMeLinkTable {
  id: string;
  change_request_id: string;
  customer_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface SecurityCaseTable {
  id: string;
  customer_id: string;
  change_request_id: string;
  kind: string;
  priority: string;
  status: string;
  opened_at: Timestamp;
  link_id: string | null;
  revert_request_id: string | null;
  resolved_at: Timestamp | null;
  resolved_by: Json<unknown> | null;
  resolution: string | null;
  note: string | null;
}

export interface MailMessageTable {
  id: string;
  created_at: Timestamp;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  change_request_id: string | null;
}

export interface ChangeRequestTable {
  id: string;
  customer_id: string;
  state: string;
  tier: string;
  channel: string;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  expires_at: Timestamp;
  body: Json<unknown>;
  approval_due_at: Timestamp | null;
  assignee_id: string | null;
  escalation_reason: string | null;
  escalated_at: Timestamp | null;
  completed_at: Timestamp | null;
  fields: string[];
  // Kept by PostgreSQL from `body` for the completeness review (migration 0018); never written.
  passed_methods: GeneratedAlways<Json<string[]>>;
  is_revert: GeneratedAlways<boolean>;
  is_read_back: GeneratedAlways<boolean>;
  approver_id: GeneratedAlways<string | null>;
  approver_role: GeneratedAlways<string | null>;
  is_approver_handler: GeneratedAlways<boolean>;
}

export interface AuditEntryTable {
  id: Generated<string>;
  chain: string;
  seq: number;
  occurred_at: Timestamp;
  actor: Json<unknown>;
  action: string;
  change_request_id: string | null;
  details: Json<Record<string, unknown>>;
  prev_hash: string;
  hash: string;
  /** The exact text `hash` covers; null only on entries written before migration 0016, until backfilled. */
  hashed_json: string | null;
}

export interface AuditChainHeadTable {
  chain: string;
  seq: number;
  hash: string;
  checkpointed_seq: Generated<number>;
}

export interface AuditCheckpointTable {
  sequence: number;
  created_at: Timestamp;
  previous_signature: string;
  heads: Json<{ chain: string; seq: number; hash: string }[]>;
  key_id: string;
  signature: string;
}

export interface OutboxTable {
  id: Generated<string>;
  kind: string;
  destination: string;
  customer_id: string;
  change_request_id: string | null;
  sequence: number;
  payload: Json<Record<string, unknown>>;
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  confirmed_at: Timestamp | null;
  confirmation: string | null;
  drift_count: Generated<number>;
  deadline_at: Timestamp | null;
  deadline_breached_at: Timestamp | null;
}

export interface CustomerSignInTable {
  id: string;
  customer_id: string;
  code_hash: string;
  expires_at: Timestamp;
  attempts: Generated<number>;
  used_at: Timestamp | null;
  created_at: Timestamp;
}

export interface CustomerSessionTable {
  id: string;
  customer_id: string;
  token_hash: string;
  authenticated_at: Timestamp;
  expires_at: Timestamp;
  created_at: Timestamp;
}

export interface VaultTokenTable {
  token: string;
  kind: string;
  brand: string | null;
  last4: string | null;
  expiry_month: number | null;
  expiry_year: number | null;
  masked_iban: string | null;
  created_at: Timestamp;
}

export interface IdentityDocumentTable {
  id: string;
  change_request_id: string;
  customer_id: string;
  document_type: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  key_id: string;
  iv: Uint8Array;
  auth_tag: Uint8Array;
  ciphertext: Uint8Array;
  uploaded_by: Json<unknown>;
  uploaded_at: Timestamp;
  review: Json<unknown> | null;
}

export interface SecurityQuestionTable {
  customer_id: string;
  question: string;
  answer_hash: string;
  set_at: Timestamp;
}

export interface OtpChallengeTable {
  id: string;
  change_request_id: string;
  customer_id: string;
  channel: string;
  destination_masked: string;
  code_hash: string;
  expires_at: Timestamp;
  attempts: number;
  used_at: Timestamp | null;
  created_at: Timestamp;
}

export interface VerificationLockTable {
  customer_id: string;
  locked_until: Timestamp;
  failures: number;
}

export interface SourceTouchTable {
  source: string;
  customer_id: string;
  last_at: Timestamp;
}

export interface QualityReviewTable {
  change_request_id: string;
  reviewed_by: Json<unknown>;
  reviewed_at: Timestamp;
  has_error: boolean;
  note: string | null;
}

export interface AnomalyFlagTable {
  id: string;
  rule: string;
  severity: string;
  customer_id: string;
  change_request_id: string | null;
  subject: string;
  evidence: Json<Record<string, unknown>>;
  status: Generated<string>;
  raised_at: Timestamp;
  reviewed_by: Json<unknown> | null;
  reviewed_at: Timestamp | null;
  review_reason: string | null;
}

export interface ManualTaskTable {
  id: string;
  outbox_id: string;
  system: string;
  customer_id: string;
  change_request_id: string | null;
  field_values: Json<Record<string, unknown>>;
  status: Generated<string>;
  created_at: Timestamp;
  attested_by: Json<unknown> | null;
  attested_at: Timestamp | null;
  evidence: string | null;
}

export interface IdempotencyKeyTable {
  principal: string;
  key: string;
  request_hash: string;
  response_status: number;
  response_body: Json<unknown>;
  created_at: Timestamp;
}

export interface StaffUserTable {
  id: string;
  email: string;
  display_name: string;
  role: string;
  created_at: Timestamp;
  password_hash: string | null;
  totp_secret: string | null;
  totp_last_step: string | number | null;
  failed_sign_ins: Generated<number>;
  locked_until: Timestamp | null;
}

export interface StaffSessionTable {
  id: string;
  staff_user_id: string;
  token_hash: string;
  csrf_hash: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  absolute_expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface ApiKeyTable {
  id: string;
  name: string;
  key_hash: string;
  role: string;
  staff_user_id: string | null;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  scopes: Json<string[]> | null;
  last_used_at: Timestamp | null;
}

export interface Database {
  customer: CustomerTable;
  change_request: ChangeRequestTable;
  audit_entry: AuditEntryTable;
  audit_chain_head: AuditChainHeadTable;
  audit_checkpoint: AuditCheckpointTable;
  outbox: OutboxTable;
  manual_task: ManualTaskTable;
  anomaly_flag: AnomalyFlagTable;
  quality_review: QualityReviewTable;
  source_touch: SourceTouchTable;
  otp_challenge: OtpChallengeTable;
  security_question: SecurityQuestionTable;
  identity_document: IdentityDocumentTable;
  vault_token: VaultTokenTable;
  customer_sign_in: CustomerSignInTable;
  customer_session: CustomerSessionTable;
  verification_lock: VerificationLockTable;
  not_me_link: NotMeLinkTable;
  security_case: SecurityCaseTable;
  mail_message: MailMessageTable;
  idempotency_key: IdempotencyKeyTable;
  staff_user: StaffUserTable;
  api_key: ApiKeyTable;
  staff_session: StaffSessionTable;
}
