import { intakeActivity } from '../core/anomaly-fns.ts';
import {
  decide,
  type RequestedChange,
  receiveChangeRequest,
  type Transition,
} from '../core/change-request-fns.ts';
import {
  type Actor,
  type ChangeRequest,
  type Channel,
  type Source,
  SYSTEM_ACTOR,
  type Verification,
} from '../core/change-request-types.ts';
import { isRecentSignIn } from '../core/policy-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';
import { raiseAnomalies } from './raise-anomalies.ts';
import { inTransaction } from './transaction-fns.ts';
import { checkVerificationLock } from './verification-lock.ts';

export interface SubmitChangeRequestInput {
  readonly customerId: string;
  readonly changes: readonly RequestedChange[];
  readonly channel: Channel;
  readonly reason: string | null;
  readonly isSubmissionConfirmed: boolean;
  readonly requester: Actor;
  readonly source: Source;
  /** `Idempotency-Key` and the hash of the body it came with; a retry with both equal gets the first answer. */
  readonly idempotency?:
    | { readonly principal: string; readonly key: string; readonly requestHash: string }
    | undefined;
  /** A signed-in customer's self-service session: a recent sign-in counts as verification. */
  readonly session?: { readonly id: string; readonly authenticatedAt: string } | null | undefined;
}

export type SubmitOutcome =
  | { readonly isReplay: false; readonly request: ChangeRequest }
  | { readonly isReplay: true; readonly status: number; readonly body: unknown };

type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction'> };

/**
 * Logs a change request (procedure step 1) and takes it as far as it can go at once: an integration's
 * confirmed basic change is verified, read back and applied in this same transaction.
 */
export async function submitChangeRequest(
  deps: Deps,
  input: SubmitChangeRequestInput,
  render: (request: ChangeRequest) => unknown,
): Promise<Result<SubmitOutcome>> {
  const now = deps.clock.now().toISOString();
  return inTransaction<SubmitOutcome>(deps.store, async (tx) => {
    if (input.idempotency) {
      const earlier = await tx.claimIdempotencyKey({ ...input.idempotency, now });
      if (earlier) {
        if (earlier.requestHash !== input.idempotency.requestHash)
          return fail(
            'IDEMPOTENCY.KEY_REUSED',
            `Idempotency-Key "${input.idempotency.key}" was used with a different body.`,
          );
        return ok({ isReplay: true, status: earlier.status, body: earlier.body });
      }
    }
    const customer = await tx.lockCustomer(input.customerId);
    if (!customer)
      return fail('CUSTOMER.NOT_FOUND', `No customer has id ${input.customerId}.`, {
        customerId: input.customerId,
      });
    const unlocked = await checkVerificationLock(tx, customer.id, now);
    if (!unlocked.ok) return unlocked;
    const received = receiveChangeRequest(
      {
        id: deps.ids.newId(),
        customer,
        changes: input.changes,
        channel: input.channel,
        requester: input.requester,
        source: input.source,
        reason: input.reason,
        intakeVerifications: intakeVerifications(
          input,
          deps.ids.newId(),
          now,
          deps.policy.verification.recentSessionMinutes,
        ),
        isSubmissionConfirmed: input.isSubmissionConfirmed,
      },
      { ...decisionContext(deps), now },
    );
    if (!received.ok) return received;
    await raiseAnomalies(tx, intakeActivity(received.value.request), deps);
    const checked = await escalateIfContactInUse(tx, received.value, deps);
    if (!checked.ok) return checked;
    const outcome = await applyWhenReady(tx, checked.value, deps, input.requester, customer);
    if (!outcome.ok) return outcome;
    const saved = await saveOutcome(tx, outcome.value, null, deps);
    if (!saved.ok) return saved;
    if (input.idempotency)
      await tx.recordIdempotentResponse({
        principal: input.idempotency.principal,
        key: input.idempotency.key,
        status: 201,
        body: render(saved.value),
      });
    return ok({ isReplay: false, request: saved.value });
  });
}

/**
 * An email or phone must identify one customer: if another customer already holds the new value, a person
 * decides (procedure step 3.2, "inconsistencies"); it is never applied silently.
 */
async function escalateIfContactInUse(
  tx: Pick<Store, 'customersWithContact'>,
  transition: Transition,
  context: UseCaseContext,
): Promise<Result<Transition>> {
  const { request } = transition;
  const contact = Object.fromEntries(
    request.items
      .filter(
        (item) => (item.field === 'email' || item.field === 'phone') && typeof item.proposed === 'string',
      )
      .map((item) => [item.field, item.proposed as string]),
  ) as { email?: string; phone?: string };
  if (Object.keys(contact).length === 0) return ok(transition);
  const others = await tx.customersWithContact(contact, request.customerId);
  if (others.length === 0) return ok(transition);
  const escalated = decide(
    request,
    {
      type: 'escalate',
      by: SYSTEM_ACTOR,
      reason: 'data_discrepancy',
      note: `The new ${Object.keys(contact).join(' and ')} is already on another customer's record (${others.join(', ')}); confirm who it belongs to.`,
    },
    decisionContext(context),
  );
  if (!escalated.ok) return escalated;
  return ok({ request: escalated.value.request, events: [...transition.events, ...escalated.value.events] });
}

/** Verification the intake itself establishes: an authenticated integration vouches for its own submissions. */
function intakeVerifications(
  input: SubmitChangeRequestInput,
  id: string,
  now: string,
  recentSessionMinutes: number,
): Verification[] {
  if (input.requester.kind === 'customer' && input.session) {
    return isRecentSignIn(input.session.authenticatedAt, now, recentSessionMinutes)
      ? [
          {
            id,
            method: 'recent_session',
            outcome: 'passed',
            evidence: { sessionId: input.session.id, authenticatedAt: input.session.authenticatedAt },
            recordedBy: SYSTEM_ACTOR,
            recordedAt: now,
          },
        ]
      : [];
  }
  if (input.requester.kind !== 'integration' || !input.source.apiKeyId) return [];
  return [
    {
      id,
      method: 'trusted_integration',
      outcome: 'passed',
      evidence: { apiKeyId: input.source.apiKeyId },
      recordedBy: input.requester,
      recordedAt: now,
    },
  ];
}
