import { monthRange, procedureFindings, type ReviewFinding } from '../core/procedure-review-fns.ts';
import type { Store, UseCaseContext } from './ports.ts';

export interface CompletenessReview {
  readonly month: string;
  readonly appliedChanges: number;
  readonly findings: ReviewFinding[];
}

/** Lists every change applied in the month that lacks anything the procedure requires (step 8.1). */
export async function reviewProcedureCompleteness(
  deps: Pick<UseCaseContext, 'policy'> & {
    readonly store: Pick<Store, 'appliedChangeRequestIds' | 'findChangeRequest' | 'outboxForChangeRequest'>;
  },
  month: string,
): Promise<CompletenessReview> {
  const { from, to } = monthRange(month);
  const ids = await deps.store.appliedChangeRequestIds(from, to);
  const findings: ReviewFinding[] = [];
  for (const id of ids) {
    const request = await deps.store.findChangeRequest(id);
    if (!request) {
      findings.push({
        changeRequestId: id,
        customerId: '',
        code: 'VERIFICATION_BELOW_TIER',
        message: 'The audit log records this change as applied, but the request is gone.',
      });
      continue;
    }
    findings.push(...procedureFindings(request, await deps.store.outboxForChangeRequest(id), deps.policy));
  }
  return { month, appliedChanges: ids.length, findings };
}
