import { decide } from '../core/change-request-fns.ts';
import { type Actor, type ChangeRequest, SYSTEM_ACTOR } from '../core/change-request-types.ts';
import type { VerificationMethod } from '../core/policy-types.ts';
import type { Result } from '../core/result.ts';
import { applyWhenReady, saveOutcome } from './change-request-flow.ts';
import { enforceVerificationLimit } from './enforce-verification-limit.ts';
import { decisionContext, type Store, type UseCaseContext } from './ports.ts';

/**
 * Records a check Amend itself made (a code, an account fact, a security answer) on a locked request, applies
 * the change if that completes it, and on a failure enforces the lockout. Inside the caller's transaction.
 */
export async function recordSystemVerification(
  tx: Store,
  request: ChangeRequest,
  check: { method: VerificationMethod; isPassed: boolean; evidence: Record<string, unknown> },
  actor: Actor,
  context: UseCaseContext,
): Promise<Result<ChangeRequest>> {
  const recordedAt = context.clock.now().toISOString();
  const recorded = decide(
    request,
    {
      type: 'record_verification',
      verification: {
        id: context.ids.newId(),
        method: check.method,
        outcome: check.isPassed ? 'passed' : 'failed',
        evidence: { ...check.evidence, askedBy: actor.id },
        recordedBy: SYSTEM_ACTOR,
        recordedAt,
      },
    },
    decisionContext(context),
  );
  if (!recorded.ok) return recorded;
  const outcome = await applyWhenReady(tx, recorded.value, context, actor);
  if (!outcome.ok) return outcome;
  const saved = await saveOutcome(tx, outcome.value, request.version, context);
  if (!saved.ok || check.isPassed) return saved;
  return enforceVerificationLimit(tx, saved.value, context);
}
