import { intakeActivity } from '../core/anomaly-fns.ts';
import { type RequestedChange, receiveChangeRequest } from '../core/change-request-fns.ts';
import type { Actor, ChangeRequest, Channel, Source, Verification } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';
import { raiseAnomalies } from './raise-anomalies.ts';
import { inTransaction } from './transaction-fns.ts';

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
    const received = receiveChangeRequest(
      {
        id: deps.ids.newId(),
        customer,
        changes: input.changes,
        channel: input.channel,
        requester: input.requester,
        source: input.source,
        reason: input.reason,
        intakeVerifications: intakeVerifications(input, deps.ids.newId(), now),
        isSubmissionConfirmed: input.isSubmissionConfirmed,
      },
      { ...decisionContext(deps), now },
    );
    if (!received.ok) return received;
    await raiseAnomalies(tx, intakeActivity(received.value.request), deps);
    const outcome = await applyWhenReady(tx, received.value, deps, input.requester);
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

/** Verification the intake itself establishes: an authenticated integration vouches for its own submissions. */
function intakeVerifications(input: SubmitChangeRequestInput, id: string, now: string): Verification[] {
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
