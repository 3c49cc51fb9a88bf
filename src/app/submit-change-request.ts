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
import { decisionContext, type Store, type StoredResponse, type UseCaseContext } from './ports.ts';
import { raiseAnomalies } from './raise-anomalies.ts';
import { inTransaction } from './transaction-fns.ts';
import { refuseWhileLocked } from './verification-lock.ts';

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

type Deps = UseCaseContext & { readonly store: Pick<Store, 'transaction' | 'findIdempotentResponse'> };

/** Thrown inside the transaction to roll this request's work back when its key turns out to be answered. */
class AnsweredEarlier {
  constructor(readonly earlier: StoredResponse) {}
}

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
  const { idempotency } = input;
  let submitted: Result<SubmitOutcome>;
  try {
    submitted = await submitInTransaction(deps, input, render, now);
  } catch (error) {
    if (error instanceof AnsweredEarlier && idempotency) return replay(error.earlier, idempotency);
    throw error;
  }
  // A retry of a request that succeeded may fail now (the customer moved on): it still gets the first answer.
  if (submitted.ok || !idempotency) return submitted;
  const earlier = await deps.store.findIdempotentResponse(idempotency.principal, idempotency.key);
  return earlier ? replay(earlier, idempotency) : submitted;
}

function replay(
  earlier: StoredResponse,
  idempotency: NonNullable<SubmitChangeRequestInput['idempotency']>,
): Result<SubmitOutcome> {
  if (earlier.requestHash !== idempotency.requestHash)
    return fail(
      'IDEMPOTENCY.KEY_REUSED',
      `Idempotency-Key "${idempotency.key}" was used with a different body.`,
    );
  return ok({ isReplay: true, status: earlier.status, body: earlier.body });
}

function submitInTransaction(
  deps: Deps,
  input: SubmitChangeRequestInput,
  render: (request: ChangeRequest) => unknown,
  now: string,
): Promise<Result<SubmitOutcome>> {
  return inTransaction<SubmitOutcome>(deps.store, async (tx) => {
    const locked = await tx.lockCustomerForChange(input.customerId, now);
    if (!locked)
      return fail('CUSTOMER.NOT_FOUND', `No customer has id ${input.customerId}.`, {
        customerId: input.customerId,
      });
    const { customer } = locked;
    const unlocked = refuseWhileLocked(locked.verificationLockedUntil);
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
    const openFlags = await raiseAnomalies(tx, intakeActivity(received.value.request), deps);
    const checked = await escalateIfContactInUse(tx, received.value, deps);
    if (!checked.ok) return checked;
    const outcome = await applyWhenReady(tx, checked.value, deps, input.requester, {
      customer,
      openFlags,
    });
    if (!outcome.ok) return outcome;
    const saved = await saveOutcome(tx, outcome.value, null, deps);
    if (!saved.ok) return saved;
    if (input.idempotency) {
      const earlier = await tx.storeIdempotentResponse({
        ...input.idempotency,
        status: 201,
        body: render(saved.value),
        now,
      });
      if (earlier) throw new AnsweredEarlier(earlier);
    }
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
