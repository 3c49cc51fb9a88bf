import { z } from 'zod';
import {
  ActorSchema,
  ChangeRequestStateSchema,
  ChannelSchema,
  EscalationReasonSchema,
} from '../core/change-request-types.ts';
import { CustomerSchema, FieldNameSchema } from '../core/customer-types.ts';
import { RiskTierSchema, VerificationMethodSchema } from '../core/policy-types.ts';

// One set of schemas validates requests and generates /openapi.json: the document cannot drift from the code.

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable error code; see docs/error-codes.md.'),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string(), reason: z.string().optional() }))
      .optional(),
  })
  .passthrough()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' });

export const IdParamsSchema = z.object({ id: z.uuid() });

export const RequestedChangeSchema = z.strictObject({
  field: FieldNameSchema,
  value: z
    .unknown()
    .optional()
    .describe(
      'The new value. Omit it to log a request whose value is still to be supplied (returned for clarification).',
    ),
});

export const SubmitChangeRequestBodySchema = z
  .strictObject({
    customerId: z.uuid(),
    changes: z.array(RequestedChangeSchema).min(1).max(9),
    channel: ChannelSchema.optional().describe('Defaults to "api" for integrations and "phone" for staff.'),
    reason: z.string().max(1000).optional(),
    confirmSubmittedValues: z
      .boolean()
      .default(false)
      .describe(
        'The requester has confirmed these exact values. Counts as read-back only if normalising changed nothing.',
      ),
  })
  .meta({ id: 'SubmitChangeRequest' });

export const VerifyBodySchema = z
  .strictObject({
    method: VerificationMethodSchema,
    outcome: z.enum(['passed', 'failed']),
    evidence: z
      .record(z.string(), z.unknown())
      .describe('What was checked; each method names the evidence it needs.'),
  })
  .meta({ id: 'RecordVerification' });

export const ConfirmBodySchema = z.strictObject({
  revision: z.number().int().min(1).describe('The revision whose normalised values the requester confirmed.'),
});

export const ReasonBodySchema = z.strictObject({ reason: z.string().trim().min(1).max(2000) });

export const EditBodySchema = z.strictObject({ changes: z.array(RequestedChangeSchema).min(1).max(9) });

export const ChangeRequestViewSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    state: ChangeRequestStateSchema,
    tier: RiskTierSchema,
    isApprovalRequired: z.boolean(),
    channel: ChannelSchema,
    requester: ActorSchema,
    reason: z.string().nullable(),
    items: z.array(z.object({ field: FieldNameSchema, previous: z.unknown(), proposed: z.unknown() })),
    missing: z.array(z.string()),
    verifications: z.array(
      z.object({
        method: VerificationMethodSchema,
        outcome: z.enum(['passed', 'failed']),
        recordedBy: ActorSchema,
        recordedAt: z.string(),
      }),
    ),
    readBack: z
      .object({ confirmedBy: ActorSchema, confirmedAt: z.string(), revision: z.number() })
      .nullable(),
    approval: z
      .object({
        approver: ActorSchema,
        decision: z.enum(['approved', 'rejected']),
        reason: z.string(),
        decidedAt: z.string(),
      })
      .nullable(),
    escalation: z
      .object({
        reason: EscalationReasonSchema,
        note: z.string(),
        from: ChangeRequestStateSchema,
        escalatedAt: z.string(),
      })
      .nullable(),
    connectedSystems: z.array(z.string()),
    approvalDueAt: z
      .string()
      .nullable()
      .describe('When the approval is due (end of the business day, on the request’s calendar).'),
    approvalOverdueAt: z
      .string()
      .nullable()
      .describe('When the deadline passed unmet and the request was flagged to managers.'),
    assignee: z.object({ id: z.string(), assignedBy: ActorSchema, assignedAt: z.string() }).nullable(),
    notes: z.array(z.object({ by: ActorSchema, at: z.string(), text: z.string() })),
    revertOf: z.string().nullable().describe('The change request this one undoes (after "this wasn\'t me").'),
    suspectedUnauthorisedAt: z
      .string()
      .nullable()
      .describe('When the customer reported this change as not theirs.'),
    revision: z.number(),
    version: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
    expiresAt: z.string(),
    appliedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    nextSteps: z
      .array(z.string())
      .describe('What happens next, in words to read to the requester (procedure step 1.3).'),
  })
  .meta({ id: 'ChangeRequest' });

export const TimelineEntrySchema = z.object({
  at: z.string(),
  action: z.string(),
  actor: ActorSchema,
  from: z.string().nullable(),
  to: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

/** One delivery of a change to one connected system: the outbox row's state, and how it was confirmed. */
export const DeliverySchema = z
  .object({
    id: z.number(),
    kind: z
      .enum(['propagation', 'confirmation'])
      .describe('propagation to a connected system, or the confirmation mail (destination "mail").'),
    destination: z.string(),
    customerId: z.string(),
    changeRequestId: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number(),
    driftCount: z
      .number()
      .describe('Read-backs that found a different value; each one re-pushes the change.'),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    confirmedAt: z.string().nullable(),
    confirmation: z.enum(['read_back', 'acknowledged', 'attested']).nullable(),
    deadlineAt: z
      .string()
      .nullable()
      .describe('The legal deadline (a withdrawn consent to a marketing system).'),
    deadlineBreachedAt: z.string().nullable(),
  })
  .meta({ id: 'Delivery' });

export const ChangeRequestDetailSchema = ChangeRequestViewSchema.extend({
  timeline: z.array(TimelineEntrySchema),
  propagation: z.array(DeliverySchema),
}).meta({ id: 'ChangeRequestDetail' });

export const ChangeRequestListQuerySchema = z.strictObject({
  state: ChangeRequestStateSchema.optional(),
  customerId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.uuid().optional(),
});

export const CustomerViewSchema = CustomerSchema.meta({ id: 'Customer' });

export const CustomerListQuerySchema = z.strictObject({
  email: z.string().max(254).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.uuid().optional(),
});

export const AuditEntryViewSchema = z
  .object({
    id: z.number(),
    chain: z.string(),
    seq: z.number(),
    occurredAt: z.string(),
    actor: ActorSchema,
    action: z.string(),
    changeRequestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: 'AuditEntry' });

export const AuditQuerySchema = z.strictObject({
  customerId: z.uuid().optional(),
  changeRequestId: z.uuid().optional(),
  action: z.string().max(100).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.coerce.number().int().min(0).optional(),
});

/** `<ISO time>_<uuid>`: the sort key and id of the last item of a queue page. */
const QUEUE_CURSOR_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const EscalateBodySchema = z.strictObject({
  reason: EscalationReasonSchema,
  note: z.string().trim().min(1).max(2000),
});

export const ResolveBodySchema = z.strictObject({
  resolution: z
    .enum(['resume', 'close'])
    .describe('resume: back into the flow where it was escalated; close: cancel it.'),
  note: z.string().trim().min(1).max(2000),
});

export const AssignBodySchema = z.strictObject({ assigneeId: z.uuid().describe('A team lead or manager.') });

export const NoteBodySchema = z.strictObject({ text: z.string().trim().min(1).max(4000) });

export const PreviewSchema = z
  .object({
    changeRequestId: z.string(),
    customerVersion: z.number(),
    state: ChangeRequestStateSchema,
    tier: RiskTierSchema,
    changes: z.array(
      z.object({
        field: FieldNameSchema,
        current: z.unknown().describe('The value on the record now.'),
        proposed: z.unknown().describe('The normalised value that will be written.'),
        hasMovedSinceReceived: z
          .boolean()
          .describe('True if the record changed since the request was received; applying will escalate.'),
      }),
    ),
    verifications: z.array(
      z.object({
        method: VerificationMethodSchema,
        outcome: z.enum(['passed', 'failed']),
        evidence: z.record(z.string(), z.unknown()),
        recordedBy: ActorSchema,
        recordedAt: z.string(),
      }),
    ),
    readBack: z
      .object({ confirmedBy: ActorSchema, confirmedAt: z.string(), revision: z.number() })
      .nullable(),
    approvalDueAt: z.string().nullable(),
  })
  .meta({ id: 'ChangeRequestPreview' });

/** Paging shared by the queues. */
const queuePaging = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z
    .string()
    .regex(QUEUE_CURSOR_PATTERN, 'Pass the nextCursor of the previous page unchanged.')
    .optional()
    .describe('The nextCursor of the previous page.'),
};

export const ApprovalQueueQuerySchema = z.strictObject({
  tier: RiskTierSchema.optional(),
  overdue: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: only past their deadline; false: only within it.'),
  assigneeId: z.uuid().optional(),
  ...queuePaging,
});

export const EscalationQueueQuerySchema = z.strictObject({
  reason: EscalationReasonSchema.optional(),
  assigneeId: z.uuid().optional(),
  unassigned: z.enum(['true', 'false']).optional(),
  ...queuePaging,
});
