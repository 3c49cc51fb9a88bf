/** The monthly report (procedure step 8.3): volume, speed, accuracy, unauthorised-change detection, compliance. */
export interface MonthlyReport {
  readonly month: string;
  readonly generatedAt: string;
  readonly volume: {
    readonly total: number;
    readonly byField: Record<string, number>;
    readonly byChannel: Record<string, number>;
    readonly byTier: Record<string, number>;
  };
  readonly processingTime: {
    readonly completed: number;
    /** Received to completed (confirmation accepted), in minutes. */
    readonly medianMinutes: number | null;
    readonly p90Minutes: number | null;
    /** Staff handling time is not recorded yet; reported as null rather than guessed. */
    readonly staffHandlingMedianMinutes: null;
  };
  readonly accuracy: {
    readonly reviewed: number;
    readonly reviewedWithError: number;
    readonly reverts: number;
    /** (reviewed without error) / (reviewed + reverts not reviewed); null when nothing was reviewed or reverted. */
    readonly rate: number | null;
  };
  readonly unauthorisedChangeDetection: {
    readonly flagsRaised: Record<string, number>;
    readonly flagsConfirmed: number;
    readonly notMeReports: number;
    readonly reverts: number;
  };
  readonly approvalSlaBreaches: number;
  readonly propagation: {
    readonly system: string;
    readonly deliveries: number;
    readonly confirmed: number;
    readonly deadLetters: number;
    readonly medianLagSeconds: number | null;
    readonly p90LagSeconds: number | null;
  }[];
  readonly compliance: {
    readonly appliedChanges: number;
    readonly procedureFindings: Record<string, number>;
    readonly optOutDeadlineBreaches: number;
  };
}

/**
 * Accuracy from the quality review: reverts count as errors even when nobody sampled them.
 * @example accuracyRate({ reviewed: 20, reviewedWithError: 1, revertsNotReviewed: 1 }) // 19 / 21
 */
export function accuracyRate(input: {
  reviewed: number;
  reviewedWithError: number;
  revertsNotReviewed: number;
}): number | null {
  const denominator = input.reviewed + input.revertsNotReviewed;
  return denominator === 0 ? null : (input.reviewed - input.reviewedWithError) / denominator;
}

const round = (value: number | null, digits = 2) =>
  value === null ? '' : String(Math.round(value * 10 ** digits) / 10 ** digits);

/** The report as CSV rows: section, metric, key, value. One flat table a spreadsheet can pivot. */
export function monthlyReportRows(report: MonthlyReport): string[][] {
  const rows: string[][] = [['section', 'metric', 'key', 'value']];
  const add = (section: string, metric: string, key: string, value: string | number | null) =>
    rows.push([section, metric, key, value === null ? '' : String(value)]);
  add('volume', 'total', '', report.volume.total);
  for (const [field, count] of Object.entries(report.volume.byField)) add('volume', 'by_field', field, count);
  for (const [channel, count] of Object.entries(report.volume.byChannel))
    add('volume', 'by_channel', channel, count);
  for (const [tier, count] of Object.entries(report.volume.byTier)) add('volume', 'by_tier', tier, count);
  add('processing_time', 'completed', '', report.processingTime.completed);
  add('processing_time', 'median_minutes', '', round(report.processingTime.medianMinutes));
  add('processing_time', 'p90_minutes', '', round(report.processingTime.p90Minutes));
  add('accuracy', 'reviewed', '', report.accuracy.reviewed);
  add('accuracy', 'reviewed_with_error', '', report.accuracy.reviewedWithError);
  add('accuracy', 'reverts', '', report.accuracy.reverts);
  add('accuracy', 'rate', '', round(report.accuracy.rate, 4));
  for (const [rule, count] of Object.entries(report.unauthorisedChangeDetection.flagsRaised))
    add('unauthorised', 'flags_raised', rule, count);
  add('unauthorised', 'flags_confirmed', '', report.unauthorisedChangeDetection.flagsConfirmed);
  add('unauthorised', 'not_me_reports', '', report.unauthorisedChangeDetection.notMeReports);
  add('unauthorised', 'reverts', '', report.unauthorisedChangeDetection.reverts);
  add('approval', 'sla_breaches', '', report.approvalSlaBreaches);
  for (const system of report.propagation) {
    add('propagation', 'deliveries', system.system, system.deliveries);
    add('propagation', 'confirmed', system.system, system.confirmed);
    add('propagation', 'dead_letters', system.system, system.deadLetters);
    add('propagation', 'median_lag_seconds', system.system, round(system.medianLagSeconds));
    add('propagation', 'p90_lag_seconds', system.system, round(system.p90LagSeconds));
  }
  add('compliance', 'applied_changes', '', report.compliance.appliedChanges);
  for (const [code, count] of Object.entries(report.compliance.procedureFindings))
    add('compliance', 'procedure_findings', code, count);
  add('compliance', 'opt_out_deadline_breaches', '', report.compliance.optOutDeadlineBreaches);
  return rows;
}
