import { FIELD_NAMES } from '../core/customer-types.ts';
import { connectedSystemsFor } from '../core/policy-fns.ts';
import {
  type FindingCode,
  monthRange,
  type ProcedureGap,
  procedureGaps,
  type ReviewFinding,
} from '../core/procedure-review-fns.ts';
import type { Store, UseCaseContext } from './ports.ts';

export interface CompletenessReview {
  readonly month: string;
  readonly appliedChanges: number;
  readonly findings: ReviewFinding[];
}

type ReviewDeps<Reads extends keyof Store> = Pick<UseCaseContext, 'policy'> & {
  readonly store: Pick<Store, Reads>;
};

const GONE: ProcedureGap = {
  code: 'VERIFICATION_BELOW_TIER',
  message: 'The audit log records this change as applied, but the request is gone.',
};

/**
 * The month's applied changes in groups that share their facts, each group's gaps evaluated once: a month of a
 * million changes is a handful of groups, where evaluating each change read a million bodies into this process.
 */
async function gapsOfMonth(deps: ReviewDeps<'reviewGroups'>, month: string) {
  const { from, to } = monthRange(month);
  const systems = connectedSystemsFor(deps.policy, FIELD_NAMES);
  const groups = (await deps.store.reviewGroups(from, to, systems)).map((group) => ({
    ...group,
    gaps: group.facts ? procedureGaps(group.facts, deps.policy) : [GONE],
  }));
  const appliedChanges = groups.reduce((sum, group) => sum + group.appliedChanges, 0);
  return { from, to, systems, groups, appliedChanges };
}

/**
 * Lists every change applied in the month that lacks anything the procedure requires (step 8.1). Counts applied
 * entries: the state machine applies a request once, so each is one request.
 */
export async function reviewProcedureCompleteness(
  deps: ReviewDeps<'snapshot'>,
  month: string,
): Promise<CompletenessReview> {
  // One snapshot: a change confirmed between the two reads would otherwise be counted and not listed.
  return deps.store.snapshot(async (store) => {
    const { from, to, systems, groups, appliedChanges } = await gapsOfMonth({ ...deps, store }, month);
    const gapsByKey = new Map(
      groups.filter((group) => group.gaps.length > 0).map((group) => [group.key, group.gaps]),
    );
    const members = await store.reviewGroupMembers(from, to, systems, [...gapsByKey.keys()]);
    return {
      month,
      appliedChanges,
      findings: members.flatMap((member) =>
        (gapsByKey.get(member.key) ?? []).map((gap) => ({
          changeRequestId: member.changeRequestId,
          customerId: member.customerId ?? '',
          ...gap,
        })),
      ),
    };
  });
}

/** How many changes applied in the month fall short of the procedure, by finding: the monthly report's figure. */
export async function countProcedureFindings(
  deps: ReviewDeps<'reviewGroups'>,
  month: string,
): Promise<{ appliedChanges: number; findings: Partial<Record<FindingCode, number>> }> {
  const { groups, appliedChanges } = await gapsOfMonth(deps, month);
  const findings: Partial<Record<FindingCode, number>> = {};
  for (const group of groups)
    for (const gap of group.gaps) findings[gap.code] = (findings[gap.code] ?? 0) + group.appliedChanges;
  return { appliedChanges, findings };
}
