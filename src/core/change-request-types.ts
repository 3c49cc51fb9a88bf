import { z } from 'zod';
import { FieldNameSchema } from './customer-types.ts';
import { RiskTierSchema, VerificationMethodSchema } from './policy-types.ts';

export const CHANGE_REQUEST_STATES = [
  'received',
  'awaiting_verification',
  'awaiting_confirmation',
  'awaiting_approval',
  'applied',
  'propagating',
  'consistent',
  'completed',
  'returned_for_clarification',
  'escalated',
  'declined',
  'rejected',
  'cancelled',
  'expired',
  'reverted',
] as const;
export const ChangeRequestStateSchema = z.enum(CHANGE_REQUEST_STATES);
export type ChangeRequestState = z.infer<typeof ChangeRequestStateSchema>;

/** States from which nothing moves on. */
export const FINAL_STATES: ReadonlySet<ChangeRequestState> = new Set([
  'completed',
  'declined',
  'cancelled',
  'expired',
  'reverted',
]);
/** States before the change touches the customer record: still cancellable, editable, expirable. */
export const PENDING_STATES: ReadonlySet<ChangeRequestState> = new Set([
  'received',
  'awaiting_verification',
  'awaiting_confirmation',
  'awaiting_approval',
  'returned_for_clarification',
  'rejected',
]);

export const CHANNELS = ['self_service', 'phone', 'email', 'chat', 'in_person', 'api', 'batch'] as const;
export const ChannelSchema = z.enum(CHANNELS);
export type Channel = z.infer<typeof ChannelSchema>;

export const ROLES = [
  'customer',
  'representative',
  'team_lead',
  'manager',
  'auditor',
  'admin',
  'integration',
] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** Who did something: a staff member, the customer, an integration or Amend itself. */
export const ActorSchema = z.object({
  kind: z.enum(['staff', 'customer', 'integration', 'system']),
  id: z.string(),
  role: RoleSchema.nullable(),
});
export type Actor = z.infer<typeof ActorSchema>;

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'amend', role: null };

/** Where a request came from, for the audit trail and for anomaly rules. */
export const SourceSchema = z.object({
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  apiKeyId: z.string().nullable(),
  /** A device id the portal or console sends (`X-Amend-Device-Id`), for spotting one device across customers. */
  deviceId: z.string().nullable().optional(),
});
export type Source = z.infer<typeof SourceSchema>;

export const ChangeItemSchema = z.object({
  field: FieldNameSchema,
  /** The value on file when the request was received: the apply step refuses if it has moved since. */
  previous: z.unknown(),
  /** What the requester gave, as given. `undefined` while the value is still to be supplied. */
  submitted: z.unknown(),
  /** The validated, normalised value that will be written; what the read-back shows. */
  proposed: z.unknown(),
});
export type ChangeItem = z.infer<typeof ChangeItemSchema>;

export const VerificationSchema = z.object({
  id: z.string(),
  method: VerificationMethodSchema,
  outcome: z.enum(['passed', 'failed']),
  evidence: z.record(z.string(), z.unknown()),
  recordedBy: ActorSchema,
  recordedAt: z.string(),
});
export type Verification = z.infer<typeof VerificationSchema>;

export const ApprovalSchema = z.object({
  approver: ActorSchema,
  decision: z.enum(['approved', 'rejected']),
  reason: z.string(),
  decidedAt: z.string(),
});
export type Approval = z.infer<typeof ApprovalSchema>;

export const ESCALATION_REASONS = [
  'identity_unverifiable',
  'conflicts_with_documentation',
  'data_discrepancy',
  'customer_frozen',
  'confirmation_undeliverable',
  'anomaly_hold',
  'other',
] as const;
export const EscalationReasonSchema = z.enum(ESCALATION_REASONS);

export const ChangeRequestSchema = z.object({
  id: z.string(),
  customerId: z.string(),
  state: ChangeRequestStateSchema,
  tier: RiskTierSchema,
  isApprovalRequired: z.boolean(),
  channel: ChannelSchema,
  requester: ActorSchema,
  source: SourceSchema,
  /** Why the customer wants the change, when they said. */
  reason: z.string().nullable(),
  items: z.array(ChangeItemSchema),
  /** Items still missing before the request can proceed (returned for clarification). */
  missing: z.array(z.string()),
  /** Per field needing a supporting document (policy), the document types accepted; emptied as they arrive. */
  documentsNeeded: z.record(z.string(), z.array(z.string())),
  /** Types of the documents uploaded for this request. */
  documentsSupplied: z.array(z.string()),
  verifications: z.array(VerificationSchema),
  readBack: z
    .object({ confirmedBy: ActorSchema, confirmedAt: z.string(), revision: z.number().int() })
    .nullable(),
  /** The decision on the current revision; an edit voids it. */
  approval: ApprovalSchema.nullable(),
  /** Staff who handled the request (verified, confirmed, edited): none of them may approve it. */
  processedBy: z.array(z.string()),
  escalation: z
    .object({
      reason: EscalationReasonSchema,
      note: z.string(),
      from: ChangeRequestStateSchema,
      escalatedBy: ActorSchema,
      escalatedAt: z.string(),
    })
    .nullable(),
  connectedSystems: z.array(z.string()),
  /** The working calendar (policy key) for deadlines, chosen from the customer's address at intake. */
  calendarKey: z.string(),
  /** When the approval is due; set on entering `awaiting_approval`. */
  approvalDueAt: z.string().nullable(),
  /** When the approval deadline passed unmet and the request was flagged to managers. */
  approvalOverdueAt: z.string().nullable(),
  /** The team lead or manager who owns the request in a queue. */
  assignee: z.object({ id: z.string(), assignedBy: ActorSchema, assignedAt: z.string() }).nullable(),
  /** Working notes (the SOP's record notes on escalations), in order. */
  notes: z.array(z.object({ by: ActorSchema, at: z.string(), text: z.string() })),
  /** Incremented by every edit; a read-back or approval belongs to one revision. */
  revision: z.number().int(),
  /** Optimistic-concurrency version of the stored request. */
  version: z.number().int(),
  /** The change request this one undoes (a revert after "this wasn't me"). */
  revertOf: z.string().nullable(),
  /** When the customer reported this change as not theirs. */
  suspectedUnauthorisedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  expiresAt: z.string(),
  appliedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});
export type ChangeRequest = z.infer<typeof ChangeRequestSchema>;

export const CHANGE_REQUEST_EVENT_TYPES = [
  'received',
  'returned_for_clarification',
  'clarification_supplied',
  'verification_recorded',
  'verification_satisfied',
  'read_back_confirmed',
  'edited',
  'approved',
  'rejected',
  'applied',
  'propagation_started',
  'consistency_confirmed',
  'completed',
  'escalated',
  'escalation_resolved',
  'declined',
  'cancelled',
  'expired',
  'reverted',
  'assigned',
  'note_added',
  'approval_overdue',
  'reported_not_me',
  'document_supplied',
] as const;
export type ChangeRequestEventType = (typeof CHANGE_REQUEST_EVENT_TYPES)[number];

/** Something that happened to a change request. Each becomes exactly one audit entry. */
export interface ChangeRequestEvent {
  readonly type: ChangeRequestEventType;
  readonly at: string;
  readonly actor: Actor;
  readonly from: ChangeRequestState;
  readonly to: ChangeRequestState;
  readonly details: Readonly<Record<string, unknown>>;
}
