import { decide } from '../core/change-request-fns.ts';
import { type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { ok, type Result } from '../core/result.ts';
import { saveOutcome } from './change-request-flow.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';

const MINUTE_MS = 60_000;

/**
 * After a failed check (procedure step 2.3): when the customer's failures within the window reach the limit,
 * the request is declined and the customer's changes are locked for the cool-down. The declined request's next
 * steps list the other ways to verify.
 */
export async function enforceVerificationLimit(
  tx: Store,
  request: ChangeRequest,
  context: UseCaseContext,
): Promise<Result<ChangeRequest>> {
  const rules = context.policy.verification;
  const now = context.clock.now();
  const since = new Date(now.getTime() - rules.failureWindowMinutes * MINUTE_MS).toISOString();
  const failures = (await tx.customerActivity(request.customerId, since)).filter(
    (activity) => activity.kind === 'verification_failed',
  ).length;
  if (failures < rules.failureLimit || request.state !== 'awaiting_verification') return ok(request);
  const declined = decide(
    request,
    {
      type: 'decline',
      by: SYSTEM_ACTOR,
      reason: `${failures} failed identity checks within ${rules.failureWindowMinutes} minutes`,
    },
    decisionContext(context),
  );
  if (!declined.ok) return declined;
  const saved = await saveOutcome(tx, { ...declined.value, customerWrite: null }, request.version, context);
  if (!saved.ok) return saved;
  const until = new Date(now.getTime() + rules.lockoutMinutes * MINUTE_MS).toISOString();
  await tx.lockVerification(request.customerId, until, failures);
  await tx.appendAudit([
    {
      chain: request.customerId,
      occurredAt: now.toISOString(),
      actor: SYSTEM_ACTOR,
      action: 'customer.verification_locked',
      changeRequestId: request.id,
      details: { failures, lockedUntil: until },
    },
  ]);
  return saved;
}
