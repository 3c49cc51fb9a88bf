import { accuracyRate, type MonthlyReport } from '../core/monthly-report-fns.ts';
import { monthRange } from '../core/procedure-review-fns.ts';
import type { Store, UseCaseContext } from './ports.ts';
import { countProcedureFindings } from './review-procedure-completeness.ts';

/** The monthly report (procedure step 8.3), from the database's aggregates and the completeness review. */
export async function buildMonthlyReport(
  deps: Pick<UseCaseContext, 'policy' | 'clock'> & {
    readonly store: Pick<Store, 'monthlyFigures' | 'reviewGroups'>;
  },
  month: string,
): Promise<MonthlyReport> {
  const { from, to } = monthRange(month);
  const [figures, review] = await Promise.all([
    deps.store.monthlyFigures(from, to),
    countProcedureFindings(deps, month),
  ]);
  return {
    month,
    generatedAt: deps.clock.now().toISOString(),
    volume: figures.volume,
    processingTime: { ...figures.processingTime, staffHandlingMedianMinutes: null },
    accuracy: {
      reviewed: figures.reviews.reviewed,
      reviewedWithError: figures.reviews.withError,
      reverts: figures.reverts.total,
      rate: accuracyRate({
        reviewed: figures.reviews.reviewed,
        reviewedWithError: figures.reviews.withError,
        revertsNotReviewed: figures.reverts.notReviewed,
      }),
    },
    unauthorisedChangeDetection: {
      flagsRaised: figures.flagsRaised,
      flagsConfirmed: figures.flagsConfirmed,
      notMeReports: figures.notMeReports,
      reverts: figures.reverts.total,
    },
    approvalSlaBreaches: figures.approvalSlaBreaches,
    propagation: figures.propagation,
    compliance: {
      appliedChanges: review.appliedChanges,
      procedureFindings: review.findings,
      optOutDeadlineBreaches: figures.optOutDeadlineBreaches,
    },
  };
}
