import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

type EscalationReason = NonNullable<ChangeRequest['escalation']>['reason'];

/** Takes a request out of the flow for a team lead (SOP: identity unverifiable, conflicts with documentation, discrepancies). */
export function escalateChangeRequest(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  reason: EscalationReason,
  note: string,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'escalate', by: actor, reason, note }),
    { expectedVersion },
  );
}

/** Resolves an escalation: back into the flow where it left it, or closed. */
export function resolveEscalation(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  resolution: 'resume' | 'close',
  note: string,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'resolve_escalation', by: actor, resolution, note }),
    {
      expectedVersion,
    },
  );
}
