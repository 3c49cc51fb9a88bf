import { type BusinessCalendar, businessDeadline } from './business-day-fns.ts';
import {
  type Actor,
  type ChangeItem,
  type ChangeRequest,
  type ChangeRequestEvent,
  type ChangeRequestEventType,
  type ChangeRequestState,
  type Channel,
  FINAL_STATES,
  PENDING_STATES,
  type Source,
  SYSTEM_ACTOR,
  type Verification,
} from './change-request-types.ts';
import {
  type CommunicationPreferences,
  type Customer,
  FIELD_GROUP_OF,
  FIELD_NAMES,
  type FieldName,
} from './customer-types.ts';
import { type FieldProblem, type PreferencesInput, validateFieldValue } from './field-validation-fns.ts';
import {
  calendarKeyFor,
  connectedSystemsFor,
  isApprovalRequired,
  isVerificationSatisfied,
  tierOfFields,
} from './policy-fns.ts';
import type { Policy, VerificationMethod } from './policy-types.ts';
import { fail, ok, type Result } from './result.ts';
import { isSameValue } from './value-fns.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Methods only Amend itself may record (it checked the code or the session); staff cannot attest them. */
const SYSTEM_RECORDED_METHODS: ReadonlySet<VerificationMethod> = new Set([
  'otp_on_file',
  'recent_session',
  'trusted_integration',
  'not_me_link',
]);

/** Evidence each method must carry so that an auditor can see what was checked. */
const REQUIRED_EVIDENCE: Readonly<Record<VerificationMethod, readonly string[]>> = {
  otp_on_file: ['channel', 'destination'],
  knowledge_check: ['question'],
  account_fact: ['fact'],
  id_document: ['documentType', 'documentReference', 'checklist'],
  recent_session: ['sessionId', 'authenticatedAt'],
  trusted_integration: ['apiKeyId'],
  not_me_link: ['linkId', 'caseId'],
};

const APPROVER_ROLES = new Set(['team_lead', 'manager']);

export interface DecisionContext {
  readonly policy: Policy;
  /** ISO timestamp: the core has no clock. */
  readonly now: string;
  /** Working calendars by policy key, for approval deadlines; without them no deadline is set. */
  readonly calendars?: ReadonlyMap<string, BusinessCalendar> | undefined;
}

/** What the requester asked for, one field at a time; `value` absent means "still to be supplied". */
export interface RequestedChange {
  readonly field: FieldName;
  readonly value?: unknown;
}

export interface ReceiveInput {
  readonly id: string;
  readonly customer: Customer;
  readonly changes: readonly RequestedChange[];
  readonly channel: Channel;
  readonly requester: Actor;
  readonly source: Source;
  readonly reason: string | null;
  /** Verifications established at intake: a recent portal session, a trusted integration's key. */
  readonly intakeVerifications: readonly Verification[];
  /** The requester confirms the submitted values as final: counts as read-back only if normalising changed nothing. */
  readonly isSubmissionConfirmed: boolean;
  /** The change request this one undoes; set only for the revert of a reported change. */
  readonly revertOf?: string | null;
}

export type Transition = { readonly request: ChangeRequest; readonly events: readonly ChangeRequestEvent[] };

export type ChangeRequestCommand =
  | { readonly type: 'record_verification'; readonly verification: Verification }
  | { readonly type: 'confirm_read_back'; readonly by: Actor; readonly revision: number }
  | {
      readonly type: 'edit';
      readonly by: Actor;
      readonly changes: readonly RequestedChange[];
      readonly customer: Customer;
    }
  | { readonly type: 'approve'; readonly by: Actor; readonly reason: string }
  | { readonly type: 'reject'; readonly by: Actor; readonly reason: string }
  | { readonly type: 'cancel'; readonly by: Actor; readonly reason: string }
  | { readonly type: 'decline'; readonly by: Actor; readonly reason: string }
  | {
      readonly type: 'escalate';
      readonly by: Actor;
      readonly reason: NonNullable<ChangeRequest['escalation']>['reason'];
      readonly note: string;
    }
  | {
      readonly type: 'resolve_escalation';
      readonly by: Actor;
      readonly resolution: 'resume' | 'close';
      readonly note: string;
    }
  | { readonly type: 'expire' }
  | { readonly type: 'mark_consistent' }
  | { readonly type: 'complete' }
  | { readonly type: 'mark_reverted'; readonly by: Actor; readonly revertRequestId: string }
  | { readonly type: 'assign'; readonly by: Actor; readonly assigneeId: string }
  | { readonly type: 'add_note'; readonly by: Actor; readonly text: string }
  | { readonly type: 'flag_approval_overdue' }
  | { readonly type: 'report_not_me'; readonly linkId: string; readonly caseId: string }
  | { readonly type: 'supply_document'; readonly by: Actor; readonly documentType: string };

export type ChangeRequestCommandType = ChangeRequestCommand['type'];

/** Which states each command may start from. Everything else is an illegal transition. */
const ALLOWED_FROM: Readonly<Record<ChangeRequestCommandType, readonly ChangeRequestState[]>> = {
  record_verification: ['awaiting_verification'],
  confirm_read_back: ['awaiting_confirmation'],
  edit: [
    'awaiting_verification',
    'awaiting_confirmation',
    'awaiting_approval',
    'returned_for_clarification',
    'rejected',
  ],
  approve: ['awaiting_approval'],
  reject: ['awaiting_approval'],
  cancel: [...PENDING_STATES],
  decline: ['awaiting_verification', 'escalated'],
  escalate: [
    'received',
    'awaiting_verification',
    'awaiting_confirmation',
    'awaiting_approval',
    'applied',
    'propagating',
    'consistent',
  ],
  resolve_escalation: ['escalated'],
  expire: [...PENDING_STATES],
  mark_consistent: ['propagating'],
  complete: ['consistent'],
  mark_reverted: ['propagating', 'consistent', 'completed', 'escalated'],
  assign: ['awaiting_approval', 'escalated'],
  add_note: [...PENDING_STATES, 'escalated', 'applied', 'propagating', 'consistent'],
  flag_approval_overdue: ['awaiting_approval'],
  report_not_me: ['propagating', 'consistent', 'completed', 'escalated'],
  supply_document: ['returned_for_clarification', 'awaiting_verification'],
};

/** Who may own a request in a queue and decide on it. */
const QUEUE_OWNER_ROLES = new Set(['team_lead', 'manager']);

const event = (
  type: ChangeRequestEventType,
  actor: Actor,
  from: ChangeRequestState,
  to: ChangeRequestState,
  at: string,
  details: Record<string, unknown> = {},
): ChangeRequestEvent => ({ type, at, actor, from, to, details });

const staffIdOf = (actor: Actor): string[] => (actor.kind === 'staff' ? [actor.id] : []);

/** The methods that passed on the current request. */
export const passedMethods = (request: ChangeRequest): Set<VerificationMethod> =>
  new Set(request.verifications.filter((v) => v.outcome === 'passed').map((v) => v.method));

/** A revert is authorised by the customer's own report through the signed link, not by the tiers' methods. */
export const isVerified = (request: ChangeRequest, policy: Policy): boolean =>
  request.revertOf
    ? passedMethods(request).has('not_me_link')
    : isVerificationSatisfied(policy, request.tier, passedMethods(request));

const isReadBackCurrent = (request: ChangeRequest): boolean =>
  request.readBack?.revision === request.revision;

const isApprovalCurrent = (request: ChangeRequest): boolean =>
  request.approval?.decision === 'approved' && !isApproverIneligible(request, request.approval.approver);

function isApproverIneligible(request: ChangeRequest, approver: Actor): 'role' | 'self' | false {
  if (approver.kind !== 'staff' || !approver.role || !APPROVER_ROLES.has(approver.role)) return 'role';
  if (approver.id === request.requester.id || request.processedBy.includes(approver.id)) return 'self';
  return false;
}

/** Can the change be written to the customer record now? The one gate every path to `applied` goes through. */
export function checkReadyToApply(request: ChangeRequest, policy: Policy): Result<true> {
  if (request.state !== 'awaiting_confirmation' && request.state !== 'awaiting_approval')
    return fail(
      'CHANGE_REQUEST.ILLEGAL_TRANSITION',
      `Change request ${request.id} is ${request.state}; it cannot be applied.`,
      {
        state: request.state,
      },
    );
  if (!isVerified(request, policy))
    return fail(
      'CHANGE_REQUEST.NOT_VERIFIED',
      `Change request ${request.id} lacks the ${request.tier} identity verification.`,
    );
  if (!isReadBackCurrent(request))
    return fail(
      'CHANGE_REQUEST.NOT_CONFIRMED',
      `The requester has not confirmed the values of change request ${request.id}.`,
    );
  if (request.isApprovalRequired && !isApprovalCurrent(request))
    return fail('CHANGE_REQUEST.NOT_APPROVED', `Change request ${request.id} needs a team lead's approval.`);
  return ok(true);
}

interface ItemsBuild {
  readonly items: ChangeItem[];
  readonly missing: string[];
}

function buildItems(
  customer: Customer,
  changes: readonly RequestedChange[],
  now: string,
): Result<ItemsBuild> {
  if (changes.length === 0)
    return fail('REQUEST.INVALID', 'Name at least one field to change.', {
      errors: [{ path: 'changes', message: 'Add at least one change.' }],
    });
  const seen = new Set<FieldName>();
  const problems: FieldProblem[] = [];
  const items: ChangeItem[] = [];
  const missing: string[] = [];
  const context = { defaultCountry: customer.postalAddress?.country ?? null, today: now.slice(0, 10) };
  changes.forEach((change, index) => {
    if (!FIELD_NAMES.includes(change.field)) {
      problems.push({
        reason: 'FIELD.UNKNOWN',
        path: `changes.${index}.field`,
        message: `Use one of: ${FIELD_NAMES.join(', ')}.`,
      });
      return;
    }
    if (seen.has(change.field)) {
      problems.push({
        reason: 'FIELD.DUPLICATE',
        path: `changes.${index}.field`,
        message: `List ${change.field} only once.`,
      });
      return;
    }
    seen.add(change.field);
    const previous = customer[change.field];
    if (change.value === undefined) {
      missing.push(`${change.field}: the new value`);
      items.push({ field: change.field, previous, submitted: undefined, proposed: undefined });
      return;
    }
    const validated = validateFieldValue(change.field, change.value, context, `changes.${index}.value`);
    if (!validated.ok) {
      problems.push(...validated.error);
      return;
    }
    if (isUnchanged(change.field, previous, validated.value)) {
      problems.push({
        reason: 'FIELD.UNCHANGED',
        path: `changes.${index}.value`,
        message: `This ${change.field} is already on file; nothing to change.`,
      });
      return;
    }
    items.push({ field: change.field, previous, submitted: change.value, proposed: validated.value });
  });
  if (problems.length > 0) {
    const onlyUnchanged = problems.every((p) => p.reason === 'FIELD.UNCHANGED');
    return fail(
      onlyUnchanged ? 'FIELD.UNCHANGED' : 'FIELD.INVALID',
      'Some of the requested changes are not valid; see errors.',
      { errors: problems },
    );
  }
  return ok({ items, missing });
}

function isUnchanged(field: FieldName, previous: unknown, proposed: unknown): boolean {
  if (field === 'communicationPreferences') {
    const current = previous as CommunicationPreferences;
    return Object.entries(proposed as PreferencesInput).every(
      ([channel, isGranted]) => current[channel as keyof CommunicationPreferences].isGranted === isGranted,
    );
  }
  return isSameValue(previous, proposed);
}

/** When an approval requested now is due, on the request's calendar (FAQ: "one to two business days"). */
function approvalDeadline(request: ChangeRequest, context: DecisionContext): string | null {
  const calendar = context.calendars?.get(request.calendarKey);
  return calendar ? businessDeadline(context.now, context.policy.approvalSla.businessDays, calendar) : null;
}

/** The supporting documents the policy asks for these fields and not yet supplied, as field → accepted types. */
function documentsStillNeeded(
  policy: Policy,
  fields: readonly FieldName[],
  supplied: readonly string[],
): Record<string, string[]> {
  return Object.fromEntries(
    fields
      .map((field) => [field, policy.fields[field].supportingDocuments] as const)
      .filter(([, accepted]) => accepted.length > 0 && !accepted.some((type) => supplied.includes(type))),
  );
}

const documentWords = (needed: Record<string, string[]>): string[] =>
  Object.entries(needed).map(
    ([field, types]) =>
      `${field}: a supporting document (${types.map((t) => t.replaceAll('_', ' ')).join(' or ')})`,
  );

/** Runs the transitions that need no one's input: verified → read-back; confirmed → approval. */
function advance(request: ChangeRequest, context: DecisionContext, actor: Actor): Transition {
  const events: ChangeRequestEvent[] = [];
  let current = request;
  const move = (
    to: ChangeRequestState,
    type: ChangeRequestEventType,
    details: Record<string, unknown> = {},
  ) => {
    events.push(event(type, actor, current.state, to, context.now, details));
    current = { ...current, state: to };
  };
  if (current.state === 'awaiting_verification' && isVerified(current, context.policy)) {
    move('awaiting_confirmation', 'verification_satisfied', { methods: [...passedMethods(current)].sort() });
  }
  if (current.state === 'awaiting_confirmation' && isReadBackCurrent(current) && current.isApprovalRequired) {
    const approvalDueAt = approvalDeadline(current, context);
    events.push(
      event('read_back_confirmed', actor, 'awaiting_confirmation', 'awaiting_approval', context.now, {
        revision: current.revision,
        approvalDueAt,
      }),
    );
    current = { ...current, state: 'awaiting_approval', approvalDueAt, approvalOverdueAt: null };
  }
  return { request: current, events };
}

/**
 * Logs a new change request (procedure step 1): validates and normalises every value, classifies the risk
 * tier, and moves it as far as it can go on its own.
 * @example receiveChangeRequest({ id, customer, changes: [{ field: 'phone', value: '0412 345 678' }], … }, ctx)
 */
export function receiveChangeRequest(input: ReceiveInput, context: DecisionContext): Result<Transition> {
  const built = buildItems(input.customer, input.changes, context.now);
  if (!built.ok) return built;
  const fields = built.value.items.map((item) => item.field);
  if (input.channel === 'self_service') {
    const refused = fields.filter((field) => !context.policy.fields[field].selfService);
    if (refused.length > 0)
      return fail(
        'POLICY.SELF_SERVICE_NOT_ALLOWED',
        `Changes to ${refused.join(', ')} need customer service: please call or write to us.`,
        { fields: refused },
      );
  }
  const isRevert = Boolean(input.revertOf);
  if (input.customer.freeze && !isRevert)
    return fail(
      'CUSTOMER.FROZEN',
      `Customer ${input.customer.id} is frozen by security case ${input.customer.freeze.caseId}; a team lead must resolve it first.`,
      { caseId: input.customer.freeze.caseId },
    );
  if (!isRevert && input.intakeVerifications.some((v) => v.method === 'not_me_link'))
    return fail(
      'VERIFICATION.METHOD_NOT_ATTESTABLE',
      'A "this wasn\'t me" report authorises only the revert of the reported change.',
    );
  const tier = tierOfFields(context.policy, fields);
  const request: ChangeRequest = {
    id: input.id,
    customerId: input.customer.id,
    state: 'received',
    tier,
    // A revert restores what the customer had; the customer's report and the team lead's action are the two parties.
    isApprovalRequired: isRevert ? false : isApprovalRequired(context.policy, fields),
    channel: input.channel,
    requester: input.requester,
    source: input.source,
    reason: input.reason,
    items: built.value.items,
    missing: [...built.value.missing, ...documentWords(documentsStillNeeded(context.policy, fields, []))],
    documentsNeeded: documentsStillNeeded(context.policy, fields, []),
    documentsSupplied: [],
    verifications: [...input.intakeVerifications],
    readBack: null,
    approval: null,
    processedBy: staffIdOf(input.requester),
    escalation: null,
    connectedSystems: connectedSystemsFor(context.policy, fields),
    calendarKey: calendarKeyFor(
      context.policy,
      input.customer.postalAddress?.country ?? null,
      input.customer.postalAddress?.region ?? null,
    ),
    approvalDueAt: null,
    approvalOverdueAt: null,
    assignee: null,
    notes: [],
    revision: 1,
    version: 1,
    revertOf: input.revertOf ?? null,
    suspectedUnauthorisedAt: null,
    createdAt: context.now,
    updatedAt: context.now,
    expiresAt: new Date(Date.parse(context.now) + context.policy.requestLifetimeDays * DAY_MS).toISOString(),
    appliedAt: null,
    completedAt: null,
  };
  const received = event('received', input.requester, 'received', 'received', context.now, {
    fields,
    tier,
    channel: input.channel,
    intakeMethods: input.intakeVerifications.map((v) => v.method),
  });
  if (request.missing.length > 0) {
    return ok({
      request: { ...request, state: 'returned_for_clarification' },
      events: [
        received,
        event(
          'returned_for_clarification',
          SYSTEM_ACTOR,
          'received',
          'returned_for_clarification',
          context.now,
          { missing: request.missing },
        ),
      ],
    });
  }
  const triaged: ChangeRequest = { ...request, state: 'awaiting_verification' };
  const triage = event('received', SYSTEM_ACTOR, 'received', 'awaiting_verification', context.now, {
    triage: true,
  });
  let next = advance(triaged, context, SYSTEM_ACTOR);
  const events = [received, triage, ...next.events];
  const isNormalisationNeutral = request.items.every((item) => isSameValue(item.submitted, item.proposed));
  if (
    input.isSubmissionConfirmed &&
    isNormalisationNeutral &&
    next.request.state === 'awaiting_confirmation'
  ) {
    const confirmed = decide(
      next.request,
      { type: 'confirm_read_back', by: input.requester, revision: request.revision },
      context,
    );
    if (confirmed.ok) {
      next = confirmed.value;
      events.push(...confirmed.value.events);
    }
  }
  return ok({ request: next.request, events });
}

function checkEvidence(request: ChangeRequest, verification: Verification): Result<true> {
  const missing = REQUIRED_EVIDENCE[verification.method].filter(
    (key) => verification.evidence[key] === undefined || verification.evidence[key] === '',
  );
  if (missing.length > 0)
    return fail(
      'VERIFICATION.EVIDENCE_MISSING',
      `Record ${missing.join(', ')} for the ${verification.method} check.`,
      {
        method: verification.method,
        missing,
      },
    );
  if (verification.recordedBy.kind === 'staff' && SYSTEM_RECORDED_METHODS.has(verification.method))
    return fail(
      'VERIFICATION.METHOD_NOT_ATTESTABLE',
      `A ${verification.method} check is recorded by Amend itself, not attested by staff.`,
      {
        method: verification.method,
      },
    );
  if (verification.method === 'otp_on_file') {
    // A code sent to the value being requested proves control of the new contact point, not identity.
    const destination = String(verification.evidence.destination).toLowerCase();
    const isRequestedValue = request.items.some(
      (item) =>
        (item.field === 'email' || item.field === 'phone') &&
        String(item.proposed).toLowerCase() === destination,
    );
    if (isRequestedValue)
      return fail(
        'VERIFICATION.CONTACT_POINT_NOT_ON_FILE',
        'The code must go to a contact point already on file, not to the new value.',
      );
  }
  return ok(true);
}

const stateChange = (request: ChangeRequest, to: ChangeRequestState, now: string): ChangeRequest => ({
  ...request,
  state: to,
  updatedAt: now,
});

/**
 * Applies one command to a change request. Pure: returns the new request and the events, or a typed error
 * and nothing changed. Every state change yields an event; `applied` is reached only through `applyToCustomer`.
 * @example decide(request, { type: 'approve', by: lead, reason: 'ID checked' }, { policy, now })
 */
export function decide(
  request: ChangeRequest,
  command: ChangeRequestCommand,
  context: DecisionContext,
): Result<Transition> {
  if (!ALLOWED_FROM[command.type].includes(request.state)) {
    return fail(
      'CHANGE_REQUEST.ILLEGAL_TRANSITION',
      `Change request ${request.id} is ${request.state}; "${command.type}" is not possible now.`,
      { state: request.state, command: command.type },
    );
  }
  const { now } = context;
  const from = request.state;
  switch (command.type) {
    case 'record_verification': {
      const checked = checkEvidence(request, command.verification);
      if (!checked.ok) return checked;
      const recorded: ChangeRequest = {
        ...request,
        verifications: [...request.verifications, command.verification],
        processedBy: [...new Set([...request.processedBy, ...staffIdOf(command.verification.recordedBy)])],
        updatedAt: now,
      };
      const first = event('verification_recorded', command.verification.recordedBy, from, from, now, {
        method: command.verification.method,
        outcome: command.verification.outcome,
        evidence: command.verification.evidence,
      });
      const next = advance(recorded, context, command.verification.recordedBy);
      return ok({ request: next.request, events: [first, ...next.events] });
    }
    case 'confirm_read_back': {
      if (command.revision !== request.revision)
        return fail(
          'CHANGE_REQUEST.STALE',
          `Change request ${request.id} was edited; read back revision ${request.revision} again.`,
          {
            revision: request.revision,
          },
        );
      const confirmed: ChangeRequest = {
        ...request,
        readBack: { confirmedBy: command.by, confirmedAt: now, revision: request.revision },
        processedBy: [...new Set([...request.processedBy, ...staffIdOf(command.by)])],
        updatedAt: now,
      };
      if (confirmed.isApprovalRequired) return ok(advance(confirmed, context, command.by));
      return ok({
        request: confirmed,
        events: [event('read_back_confirmed', command.by, from, from, now, { revision: request.revision })],
      });
    }
    case 'edit': {
      const built = buildItems(command.customer, command.changes, now);
      if (!built.ok) return built;
      const fields = built.value.items.map((item) => item.field);
      if (request.channel === 'self_service') {
        const refused = fields.filter((field) => !context.policy.fields[field].selfService);
        if (refused.length > 0)
          return fail(
            'POLICY.SELF_SERVICE_NOT_ALLOWED',
            `Changes to ${refused.join(', ')} need customer service.`,
            { fields: refused },
          );
      }
      // An edit voids the read-back and any approval: both were given for other values.
      const edited: ChangeRequest = {
        ...request,
        items: built.value.items,
        missing: [
          ...built.value.missing,
          ...documentWords(documentsStillNeeded(context.policy, fields, request.documentsSupplied)),
        ],
        documentsNeeded: documentsStillNeeded(context.policy, fields, request.documentsSupplied),
        tier: tierOfFields(context.policy, fields),
        isApprovalRequired: isApprovalRequired(context.policy, fields),
        connectedSystems: connectedSystemsFor(context.policy, fields),
        readBack: null,
        approval: null,
        approvalDueAt: null,
        approvalOverdueAt: null,
        revision: request.revision + 1,
        processedBy: [...new Set([...request.processedBy, ...staffIdOf(command.by)])],
        updatedAt: now,
      };
      const to: ChangeRequestState =
        edited.missing.length > 0 ? 'returned_for_clarification' : 'awaiting_verification';
      const type = from === 'returned_for_clarification' ? 'clarification_supplied' : 'edited';
      const editEvent = event(type, command.by, from, to, now, {
        fields,
        revision: edited.revision,
        voidedApproval: request.approval !== null,
      });
      if (to === 'returned_for_clarification')
        return ok({ request: { ...edited, state: to }, events: [editEvent] });
      const next = advance({ ...edited, state: to }, context, command.by);
      return ok({ request: next.request, events: [editEvent, ...next.events] });
    }
    case 'approve':
    case 'reject': {
      if (!request.isApprovalRequired)
        return fail('APPROVAL.NOT_REQUIRED', `Change request ${request.id} needs no approval.`);
      const ineligible = isApproverIneligible(request, command.by);
      if (ineligible === 'role')
        return fail('APPROVAL.ROLE_NOT_ALLOWED', 'Only a team lead or manager may decide on approvals.');
      if (ineligible === 'self')
        return fail(
          'APPROVAL.SELF_APPROVAL',
          `You requested or processed change request ${request.id}; another team lead must decide.`,
        );
      if (command.reason.trim() === '')
        return fail('REQUEST.INVALID', 'Give the reason for your decision.', {
          errors: [{ path: 'reason', message: 'Write a reason.' }],
        });
      const decision = command.type === 'approve' ? 'approved' : 'rejected';
      const approval = { approver: command.by, decision, reason: command.reason, decidedAt: now } as const;
      if (decision === 'approved')
        return ok({
          request: { ...request, approval, updatedAt: now },
          events: [
            event('approved', command.by, from, from, now, {
              reason: command.reason,
              revision: request.revision,
            }),
          ],
        });
      return ok({
        request: { ...stateChange(request, 'rejected', now), approval },
        events: [event('rejected', command.by, from, 'rejected', now, { reason: command.reason })],
      });
    }
    case 'cancel':
    case 'decline': {
      const to = command.type === 'cancel' ? 'cancelled' : 'declined';
      return ok({
        request: stateChange(request, to, now),
        events: [event(to, command.by, from, to, now, { reason: command.reason })],
      });
    }
    case 'escalate': {
      const escalated: ChangeRequest = {
        ...stateChange(request, 'escalated', now),
        escalation: {
          reason: command.reason,
          note: command.note,
          from,
          escalatedBy: command.by,
          escalatedAt: now,
        },
      };
      return ok({
        request: escalated,
        events: [
          event('escalated', command.by, from, 'escalated', now, {
            reason: command.reason,
            note: command.note,
          }),
        ],
      });
    }
    case 'resolve_escalation': {
      const to =
        command.resolution === 'resume' ? (request.escalation?.from ?? 'awaiting_verification') : 'cancelled';
      const resolved = { ...stateChange(request, to, now), escalation: null };
      return ok({
        request: resolved,
        events: [
          event('escalation_resolved', command.by, from, to, now, {
            resolution: command.resolution,
            note: command.note,
          }),
        ],
      });
    }
    case 'expire': {
      if (now < request.expiresAt)
        return fail(
          'CHANGE_REQUEST.ILLEGAL_TRANSITION',
          `Change request ${request.id} does not expire before ${request.expiresAt}.`,
        );
      return ok({
        request: stateChange(request, 'expired', now),
        events: [event('expired', SYSTEM_ACTOR, from, 'expired', now)],
      });
    }
    case 'mark_consistent':
      return ok({
        request: stateChange(request, 'consistent', now),
        events: [
          event('consistency_confirmed', SYSTEM_ACTOR, from, 'consistent', now, {
            systems: request.connectedSystems,
          }),
        ],
      });
    case 'complete':
      return ok({
        request: { ...stateChange(request, 'completed', now), completedAt: now },
        events: [event('completed', SYSTEM_ACTOR, from, 'completed', now)],
      });
    case 'assign': {
      if (!command.by.role || !QUEUE_OWNER_ROLES.has(command.by.role))
        return fail('AUTH.FORBIDDEN', 'Only a team lead or manager may assign requests.');
      const assignee = { id: command.assigneeId, assignedBy: command.by, assignedAt: now };
      return ok({
        request: { ...request, assignee, updatedAt: now },
        events: [
          event('assigned', command.by, from, from, now, {
            assigneeId: command.assigneeId,
            previousAssigneeId: request.assignee?.id ?? null,
          }),
        ],
      });
    }
    case 'add_note': {
      const text = command.text.trim();
      if (text === '')
        return fail('REQUEST.INVALID', 'Write the note; it is empty.', {
          errors: [{ path: 'text', message: 'Write the note.' }],
        });
      return ok({
        request: { ...request, notes: [...request.notes, { by: command.by, at: now, text }], updatedAt: now },
        events: [event('note_added', command.by, from, from, now, { text })],
      });
    }
    case 'flag_approval_overdue': {
      if (!request.approvalDueAt || now < request.approvalDueAt || request.approvalOverdueAt)
        return fail(
          'CHANGE_REQUEST.ILLEGAL_TRANSITION',
          `The approval of change request ${request.id} is not overdue.`,
        );
      return ok({
        request: { ...request, approvalOverdueAt: now, updatedAt: now },
        events: [
          event('approval_overdue', SYSTEM_ACTOR, from, from, now, {
            approvalDueAt: request.approvalDueAt,
            escalatedTo: 'manager',
          }),
        ],
      });
    }
    case 'supply_document': {
      const supplied = [...new Set([...request.documentsSupplied, command.documentType])];
      const fields = request.items.map((item) => item.field);
      const needed = documentsStillNeeded(context.policy, fields, supplied);
      const missingValues = request.items
        .filter((item) => item.submitted === undefined)
        .map((item) => `${item.field}: the new value`);
      const missing = [...missingValues, ...documentWords(needed)];
      const to: ChangeRequestState =
        from === 'returned_for_clarification' && missing.length === 0 ? 'awaiting_verification' : from;
      const updated: ChangeRequest = {
        ...request,
        state: to,
        documentsSupplied: supplied,
        documentsNeeded: needed,
        missing,
        updatedAt: now,
      };
      const supplyEvent = event('document_supplied', command.by, from, to, now, {
        documentType: command.documentType,
        stillMissing: missing,
      });
      if (to === from) return ok({ request: updated, events: [supplyEvent] });
      const next = advance(updated, context, command.by);
      return ok({ request: next.request, events: [supplyEvent, ...next.events] });
    }
    case 'report_not_me':
      if (request.suspectedUnauthorisedAt)
        return fail(
          'CHANGE_REQUEST.ILLEGAL_TRANSITION',
          `Change request ${request.id} was already reported as not the customer's.`,
        );
      return ok({
        request: { ...request, suspectedUnauthorisedAt: now, updatedAt: now },
        events: [
          event(
            'reported_not_me',
            { kind: 'customer', id: request.customerId, role: 'customer' },
            from,
            from,
            now,
            {
              linkId: command.linkId,
              caseId: command.caseId,
            },
          ),
        ],
      });
    case 'mark_reverted':
      // Escalated covers a request escalated after it was applied (e.g. its confirmation bounced); one never
      // applied has nothing to revert.
      if (!request.appliedAt)
        return fail(
          'CHANGE_REQUEST.ILLEGAL_TRANSITION',
          `Change request ${request.id} was never applied; there is nothing to revert.`,
        );
      return ok({
        request: stateChange(request, 'reverted', now),
        events: [
          event('reverted', command.by, from, 'reverted', now, { revertRequestId: command.revertRequestId }),
        ],
      });
  }
}

/** The fields whose value on file moved since the request was received: applying would overwrite them blindly. */
export function conflictingFields(request: ChangeRequest, customer: Customer): FieldName[] {
  return request.items
    .filter((item) => !isSameValue(item.previous, customer[item.field]))
    .map((item) => item.field);
}

export interface Application extends Transition {
  readonly customer: Customer;
}

/**
 * Writes the change into the customer record (procedure step 4) and starts propagation. The only way to
 * `applied`: it refuses unless verification, read-back and (where required) approval are all in place, and
 * refuses fields whose value moved since the request was received.
 */
export function applyToCustomer(
  request: ChangeRequest,
  customer: Customer,
  context: DecisionContext,
  actor: Actor,
): Result<Application> {
  const ready = checkReadyToApply(request, context.policy);
  if (!ready.ok) return ready;
  if (customer.id !== request.customerId)
    return fail('CUSTOMER.NOT_FOUND', `Customer ${request.customerId} not found.`);
  if (customer.freeze && !request.revertOf)
    return fail(
      'CUSTOMER.FROZEN',
      `Customer ${customer.id} is frozen by security case ${customer.freeze.caseId}.`,
      {
        caseId: customer.freeze.caseId,
      },
    );
  const conflicts = conflictingFields(request, customer);
  if (conflicts.length > 0)
    return fail(
      'CUSTOMER.VERSION_CONFLICT',
      `Customer ${customer.id} changed meanwhile: ${conflicts.join(', ')}.`,
      { fields: conflicts },
    );
  const { now } = context;
  let updated: Customer = {
    ...customer,
    version: customer.version + 1,
    updatedAt: now,
    confirmedAt: { ...customer.confirmedAt },
  };
  for (const item of request.items) {
    updated = { ...updated, [item.field]: valueToStore(item, updated, request.channel, now) };
    updated.confirmedAt[FIELD_GROUP_OF[item.field]] = now;
  }
  const applied: ChangeRequest = { ...stateChange(request, 'applied', now), appliedAt: now };
  const appliedEvent = event('applied', actor, request.state, 'applied', now, {
    customerVersion: updated.version,
    changes: request.items.map((item) => ({
      field: item.field,
      old: item.previous,
      new: updated[item.field],
    })),
    // Why, and under which authorisation: the evidence itself is in the verification entries it names.
    reason: request.reason,
    verifiedBy: request.verifications
      .filter((v) => v.outcome === 'passed')
      .map((v) => ({ verificationId: v.id, method: v.method, by: v.recordedBy.id })),
    readBackBy: request.readBack?.confirmedBy.id ?? null,
    approvedBy: request.approval?.approver.id ?? null,
    approvalReason: request.approval?.reason ?? null,
  });
  const propagating = stateChange(applied, 'propagating', now);
  const events = [
    appliedEvent,
    event('propagation_started', SYSTEM_ACTOR, 'applied', 'propagating', now, {
      systems: request.connectedSystems,
    }),
  ];
  if (request.connectedSystems.length === 0) {
    const consistent = decide(propagating, { type: 'mark_consistent' }, context);
    if (!consistent.ok) return consistent;
    return ok({
      request: consistent.value.request,
      customer: updated,
      events: [...events, ...consistent.value.events],
    });
  }
  return ok({ request: propagating, customer: updated, events });
}

function valueToStore(item: ChangeItem, customer: Customer, channel: Channel, now: string): unknown {
  if (item.field !== 'communicationPreferences') return item.proposed;
  const merged = { ...customer.communicationPreferences };
  for (const [channelName, isGranted] of Object.entries(item.proposed as PreferencesInput)) {
    merged[channelName as keyof CommunicationPreferences] = {
      isGranted: Boolean(isGranted),
      changedAt: now,
      source: channel,
    };
  }
  return merged;
}

export const isFinal = (request: ChangeRequest): boolean => FINAL_STATES.has(request.state);
