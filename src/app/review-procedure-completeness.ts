import { monthRange, procedureFindings, type ReviewFinding } from '../core/procedure-review-fns.ts';
import type { ChangeRequestDeliveryFact, Store, UseCaseContext } from './ports.ts';

export interface CompletenessReview {
  readonly month: string;
  readonly appliedChanges: number;
  readonly findings: ReviewFinding[];
}

// Requests reviewed per pair of reads. One read each per request made a month of ten thousand applied changes
// twenty thousand round trips, most of the monthly report's time.
const REVIEW_PAGE = 500;

/** Lists every change applied in the month that lacks anything the procedure requires (step 8.1). */
export async function reviewProcedureCompleteness(
  deps: Pick<UseCaseContext, 'policy'> & {
    readonly store: Pick<Store, 'appliedChangeRequestIds' | 'reviewedRequests' | 'deliveryFacts'>;
  },
  month: string,
): Promise<CompletenessReview> {
  const { from, to } = monthRange(month);
  const ids = await deps.store.appliedChangeRequestIds(from, to);
  const findings: ReviewFinding[] = [];
  const read = (start: number) => {
    const page = ids.slice(start, start + REVIEW_PAGE);
    return Promise.all([deps.store.reviewedRequests(page), deps.store.deliveryFacts(page)]);
  };
  // The next page is read while this one is reviewed, so the database and this process work side by side.
  let reading = read(0);
  for (let start = 0; start < ids.length; start += REVIEW_PAGE) {
    const [requests, messages] = await reading;
    if (start + REVIEW_PAGE < ids.length) reading = read(start + REVIEW_PAGE);
    const requestById = new Map(requests.map((request) => [request.id, request]));
    const deliveriesById = new Map<string, ChangeRequestDeliveryFact[]>();
    for (const message of messages) {
      const deliveries = deliveriesById.get(message.changeRequestId);
      if (deliveries) deliveries.push(message);
      else deliveriesById.set(message.changeRequestId, [message]);
    }
    for (const id of ids.slice(start, start + REVIEW_PAGE)) {
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
  }
  return { month, appliedChanges: ids.length, findings };
}
