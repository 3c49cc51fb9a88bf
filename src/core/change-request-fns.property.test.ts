import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Application,
  applyToCustomer,
  type ChangeRequestCommand,
  decide,
  type RequestedChange,
  receiveChangeRequest,
  type Transition,
} from './change-request-fns.ts';
import type { Actor, ChangeRequest, Verification } from './change-request-types.ts';
import { type Customer, FIELD_NAMES, type FieldName } from './customer-types.ts';
import { ERROR_CATALOGUE } from './error-catalogue.ts';
import { RISK_TIERS, VERIFICATION_METHODS, type VerificationMethod } from './policy-types.ts';
import { loadDefaultPolicy, NEW_VALUES, NOW, sampleCustomer } from './test-fixtures.ts';

const policy = loadDefaultPolicy();

const ACTORS: readonly Actor[] = [
  { kind: 'staff', id: 'rep-1', role: 'representative' },
  { kind: 'staff', id: 'rep-2', role: 'representative' },
  { kind: 'staff', id: 'lead-1', role: 'team_lead' },
  { kind: 'staff', id: 'lead-2', role: 'team_lead' },
  { kind: 'staff', id: 'manager-1', role: 'manager' },
  { kind: 'staff', id: 'auditor-1', role: 'auditor' },
  { kind: 'integration', id: 'key-1', role: 'integration' },
  { kind: 'system', id: 'amend', role: null },
];

const EVIDENCE: Record<VerificationMethod, Record<string, unknown>> = {
  otp_on_file: { channel: 'sms', destination: '+61412345678' },
  knowledge_check: { question: 'first-school' },
  account_fact: { fact: 'postcode' },
  id_document: { documentType: 'passport', documentReference: 'PA123', checklist: { photoMatches: true } },
  recent_session: { sessionId: 's-1', authenticatedAt: NOW },
  trusted_integration: { apiKeyId: 'key-1' },
  not_me_link: { linkId: 'l-1', caseId: 'c-1' },
};

const actorArb = fc.constantFrom(...ACTORS);
const fieldsArb = fc.uniqueArray(fc.constantFrom(...FIELD_NAMES), { minLength: 1, maxLength: 3 });

// Weighted toward the commands that move a request forward, so that walks reach `applied` often enough
// (with and without approval) for the property to bite; the others still appear in most walks.
const mostly = (bias: number) => fc.integer({ min: 1, max: 10 }).map((n) => n <= bias);

const commandArb: fc.Arbitrary<ChangeRequestCommand | { type: 'apply'; by: Actor }> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc
      .record({
        method: fc.constantFrom(...VERIFICATION_METHODS),
        outcome: mostly(8).map((isPassed) => (isPassed ? ('passed' as const) : ('failed' as const))),
        by: actorArb,
        hasEvidence: mostly(8),
        toNewContact: mostly(2),
      })
      .map(({ method, outcome, by, hasEvidence, toNewContact }) => {
        const evidence = hasEvidence ? { ...EVIDENCE[method] } : {};
        if (method === 'otp_on_file' && toNewContact) evidence.destination = NEW_VALUES.email;
        const verification: Verification = {
          id: 'v',
          method,
          outcome,
          evidence,
          recordedBy: by,
          recordedAt: NOW,
        };
        return { type: 'record_verification' as const, verification };
      }),
  },
  {
    weight: 15,
    arbitrary: fc
      .record({ by: actorArb, revision: fc.integer({ min: 1, max: 3 }) })
      .map((c) => ({ type: 'confirm_read_back' as const, ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ by: actorArb, fields: fieldsArb, omitValue: mostly(2) })
      .map(({ by, fields, omitValue }) => ({
        type: 'edit' as const,
        by,
        customer: sampleCustomer(),
        changes: fields.map((field, index) =>
          omitValue && index === 0 ? { field } : { field, value: NEW_VALUES[field] },
        ),
      })),
  },
  {
    weight: 15,
    arbitrary: fc
      .record({ by: actorArb, reason: fc.constantFrom('ok', 'ok', ' ') })
      .map((c) => ({ type: 'approve' as const, ...c })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ by: actorArb }).map((c) => ({ type: 'reject' as const, reason: 'no', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ by: actorArb }).map((c) => ({ type: 'cancel' as const, reason: 'asked', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ by: actorArb })
      .map((c) => ({ type: 'decline' as const, reason: 'failed checks', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ by: actorArb })
      .map((c) => ({ type: 'escalate' as const, reason: 'other' as const, note: 'n', ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ by: actorArb, resolution: fc.constantFrom('resume' as const, 'close' as const) })
      .map((c) => ({ type: 'resolve_escalation' as const, note: 'n', ...c })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'expire' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'mark_consistent' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'complete' as const }) },
  {
    weight: 1,
    arbitrary: fc
      .record({ by: actorArb })
      .map((c) => ({ type: 'mark_reverted' as const, revertRequestId: 'r', ...c })),
  },
  { weight: 20, arbitrary: fc.record({ by: actorArb }).map((c) => ({ type: 'apply' as const, ...c })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ by: actorArb, assigneeId: fc.constantFrom('lead-1', 'lead-2') })
      .map((c) => ({ type: 'assign' as const, ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ by: actorArb, text: fc.constantFrom('called back', ' ') })
      .map((c) => ({ type: 'add_note' as const, ...c })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'flag_approval_overdue' as const }) },
);

/** A representative's request for `changes` on the sample customer, received now. */
const receiveFromRepresentative = (
  id: string,
  changes: RequestedChange[],
  customer: Customer = sampleCustomer(),
) =>
  receiveChangeRequest(
    {
      id,
      customer,
      changes,
      channel: 'phone',
      requester: ACTORS[0]!,
      source: { ip: null, userAgent: null, apiKeyId: null },
      reason: null,
      intakeVerifications: [],
      isSubmissionConfirmed: false,
    },
    { policy, now: NOW },
  );

/** An oracle written apart from the code under test: does the request carry what its tier and policy need? */
function meetsProcedure(request: ChangeRequest): string | null {
  const passed = new Set(request.verifications.filter((v) => v.outcome === 'passed').map((v) => v.method));
  const fields = request.items.map((item) => item.field);
  const highestTier =
    RISK_TIERS[Math.max(...fields.map((field) => RISK_TIERS.indexOf(policy.fields[field].tier)))]!;
  if (RISK_TIERS.indexOf(request.tier) < RISK_TIERS.indexOf(highestTier))
    return `tier ${request.tier} below ${highestTier}`;
  if (
    !policy.tiers[highestTier].verification.some((alternative) =>
      alternative.every((method) => passed.has(method)),
    )
  )
    return `verification for ${highestTier} missing (have ${[...passed].join(',')})`;
  for (const v of request.verifications) {
    if (
      v.outcome === 'passed' &&
      ['otp_on_file', 'recent_session', 'trusted_integration'].includes(v.method) &&
      v.recordedBy.kind === 'staff'
    )
      return `${v.method} attested by staff`;
  }
  if (request.readBack?.revision !== request.revision) return 'read-back missing for current revision';
  const needsApproval = fields.some(
    (field) =>
      policy.fields[field].approvalRequired ?? policy.tiers[policy.fields[field].tier].approvalRequired,
  );
  if (needsApproval) {
    const approval = request.approval;
    if (approval?.decision !== 'approved') return 'approval missing';
    if (approval.approver.id === request.requester.id) return 'approved by requester';
    if (request.verifications.some((v) => v.recordedBy.id === approval.approver.id))
      return 'approved by verifier';
    if (request.readBack.confirmedBy.id === approval.approver.id) return 'approved by the one who confirmed';
    if (!['team_lead', 'manager'].includes(approval.approver.role ?? ''))
      return `approved by ${approval.approver.role}`;
  }
  return null;
}

/** Each event starts where the previous one ended, and the last ends in the new state. */
function expectEventsChain(before: ChangeRequest | null, transition: Transition): void {
  expect(transition.events.length).toBeGreaterThan(0);
  let state = before?.state ?? 'received';
  for (const event of transition.events) {
    expect(event.from).toBe(state);
    state = event.to;
  }
  expect(state).toBe(transition.request.state);
}

describe('change request state machine (properties)', () => {
  let applications = 0;
  let approvedApplications = 0;
  it('never applies without the tier’s verification, a read-back and, where needed, a second person’s approval; every transition yields events', () => {
    fc.assert(
      fc.property(
        fieldsArb,
        actorArb.filter((actor) => actor.kind !== 'system'),
        fc.boolean(),
        fc.array(commandArb, { minLength: 10, maxLength: 40 }),
        (fields, requester, isSubmissionConfirmed, commands) => {
          let customer: Customer = sampleCustomer();
          const received = receiveChangeRequest(
            {
              id: 'cr-1',
              customer,
              changes: fields.map((field) => ({ field, value: NEW_VALUES[field] })),
              channel: requester.kind === 'integration' ? 'api' : 'phone',
              requester,
              source: { ip: null, userAgent: null, apiKeyId: null },
              reason: null,
              intakeVerifications:
                requester.kind === 'integration'
                  ? [
                      {
                        id: 'i',
                        method: 'trusted_integration',
                        outcome: 'passed',
                        evidence: { apiKeyId: requester.id },
                        recordedBy: requester,
                        recordedAt: NOW,
                      },
                    ]
                  : [],
              isSubmissionConfirmed,
            },
            { policy, now: NOW },
          );
          expect(received.ok).toBe(true);
          if (!received.ok) return;
          expectEventsChain(null, received.value);
          let request = received.value.request;
          let hasApplied = false;
          for (const command of commands) {
            const context = { policy, now: command.type === 'expire' ? '2027-01-01T00:00:00.000Z' : NOW };
            const result =
              command.type === 'apply'
                ? applyToCustomer(request, customer, context, command.by)
                : decide(request, command as ChangeRequestCommand, context);
            if (!result.ok) {
              expect(Object.keys(ERROR_CATALOGUE)).toContain(result.error.code);
              continue;
            }
            expectEventsChain(request, result.value);
            if (command.type === 'apply') {
              expect(meetsProcedure(request)).toBeNull();
              expect(
                result.value.events.some((event) => event.type === 'applied' && event.to === 'applied'),
              ).toBe(true);
              customer = (result.value as Application).customer;
              hasApplied = true;
              applications += 1;
              if (request.isApprovalRequired) approvedApplications += 1;
            } else {
              expect(result.value.events.some((event) => event.to === 'applied')).toBe(false);
            }
            request = result.value.request;
          }
          if (['applied', 'propagating', 'consistent', 'completed', 'reverted'].includes(request.state))
            expect(hasApplied).toBe(true);
        },
      ),
      { numRuns: 4000 },
    );
    // The property means nothing if random walks never reach `applied`, with and without approval.
    expect(applications).toBeGreaterThan(100);
    expect(approvedApplications).toBeGreaterThan(8);
  });

  it('refuses illegal commands with a stable code and leaves the request as it was', () => {
    const customer = sampleCustomer();
    const received = receiveFromRepresentative(
      'cr-2',
      [{ field: 'email', value: NEW_VALUES.email }],
      customer,
    );
    if (!received.ok) throw new Error('setup');
    const request = received.value.request;
    const snapshot = structuredClone(request);
    for (const command of [
      { type: 'complete' },
      { type: 'mark_consistent' },
      { type: 'approve', by: ACTORS[2]!, reason: 'x' },
      { type: 'confirm_read_back', by: ACTORS[0]!, revision: 1 },
    ] as ChangeRequestCommand[]) {
      const result = decide(request, command, { policy, now: NOW });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('CHANGE_REQUEST.ILLEGAL_TRANSITION');
    }
    const applied = applyToCustomer(request, customer, { policy, now: NOW }, ACTORS[0]!);
    expect(applied.ok || applied.error.code).toBe('CHANGE_REQUEST.ILLEGAL_TRANSITION');
    expect(request).toEqual(snapshot);
  });

  it('never counts a one-time code sent to the new contact point', () => {
    fc.assert(
      fc.property(fc.constantFrom<FieldName>('email', 'phone'), (field) => {
        const received = receiveFromRepresentative('cr-3', [{ field, value: NEW_VALUES[field] }]);
        if (!received.ok) throw new Error('setup');
        const result = decide(
          received.value.request,
          {
            type: 'record_verification',
            verification: {
              id: 'v',
              method: 'otp_on_file',
              outcome: 'passed',
              evidence: { channel: field === 'email' ? 'email' : 'sms', destination: NEW_VALUES[field] },
              recordedBy: ACTORS[7]!,
              recordedAt: NOW,
            },
          },
          { policy, now: NOW },
        );
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.code).toBe('VERIFICATION.CONTACT_POINT_NOT_ON_FILE');
      }),
    );
  });
});
