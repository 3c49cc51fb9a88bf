import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import type { VerificationMethod } from '../core/policy-types.ts';
import type { Result } from '../core/result.ts';
import { type Deps, runChangeRequestCommand } from './run-change-request-command.ts';

export interface VerificationRecord {
  readonly method: VerificationMethod;
  readonly outcome: 'passed' | 'failed';
  readonly evidence: Record<string, unknown>;
}

/** Records one identity check (procedure step 2) with its evidence; enough passed checks move the request on. */
export function verifyIdentity(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  record: VerificationRecord,
  expectedVersion?: number,
): Promise<Result<ChangeRequest>> {
  const recordedAt = deps.clock.now().toISOString();
  const id = deps.ids.newId();
  return runChangeRequestCommand(
    deps,
    changeRequestId,
    actor,
    () => ({ type: 'record_verification', verification: { id, ...record, recordedBy: actor, recordedAt } }),
    { expectedVersion },
  );
}
