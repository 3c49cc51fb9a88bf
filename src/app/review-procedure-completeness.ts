import { monthRange, procedureFindings, type ReviewFinding } from '../core/procedure-review-fns.ts';
import { groupedBy } from '../core/value-fns.ts';
import type { Store, UseCaseContext } from './ports.ts';

export interface CompletenessReview {
  readonly month: string;
  readonly appliedChanges: number;
  readonly findings: ReviewFinding[];
}

// Requests reviewed per page of three reads. One read each per request made a month of ten thousand applied
// changes twenty thousand round trips, most of the monthly report's time; reading a month's ids at once held a
// million of them in memory.
const REVIEW_PAGE = 500;

/**
 * Lists every change applied in the month that lacks anything the procedure requires (step 8.1). Counts applied
 * entries: the state machine applies a request once, so each is one request.
 */
export async function reviewProcedureCompleteness(
  deps: Pick<UseCaseContext, 'policy'> & {
    readonly store: Pick<Store, 'appliedChanges' | 'reviewedRequests' | 'deliveryFacts'>;
  },
  month: string,
): Promise<CompletenessReview> {
  const { from, to } = monthRange(month);
  const read = async (after: number | null) => {
    const { changeRequestIds: ids, nextCursor } = await deps.store.appliedChanges(
      from,
      to,
      after,
      REVIEW_PAGE,
    );
    const [requests, messages] = await Promise.all([
      deps.store.reviewedRequests(ids),
      deps.store.deliveryFacts(ids),
    ]);
    return { ids, nextCursor, requests, messages };
  };
  const findings: ReviewFinding[] = [];
  let appliedChanges = 0;
  // The next page is read while this one is reviewed, so the database and this process work side by side.
  let reading = read(null);
  for (;;) {
    const { ids, nextCursor, requests, messages } = await reading;
    if (nextCursor !== null) reading = read(nextCursor);
    appliedChanges += ids.length;
    const requestById = new Map(requests.map((request) => [request.id, request]));
    const deliveriesById = groupedBy(messages, (message) => message.changeRequestId);
    for (const id of ids) {
      const request = requestById.get(id);
      if (request) findings.push(...procedureFindings(request, deliveriesById.get(id) ?? [], deps.policy));
      else
        findings.push({
          changeRequestId: id,
          customerId: '',
          code: 'VERIFICATION_BELOW_TIER',
          message: 'The audit log records this change as applied, but the request is gone.',
        });
    }
    if (nextCursor === null) return { month, appliedChanges, findings };
  }
}
