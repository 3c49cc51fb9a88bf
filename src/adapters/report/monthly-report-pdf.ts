import PDFDocument from 'pdfkit';
import type { MonthlyReport } from '../../core/monthly-report-fns.ts';

const INK = '#1a1a1a';
const MUTED = '#666666';
const BAR = '#2f5d8a';
const PAGE_MARGIN = 50;

/**
 * The monthly report as a printable A4 PDF: black on white, vector bar charts, one idea per block, so it reads
 * the same on paper as on screen.
 */
export function renderMonthlyReportPdf(report: MonthlyReport): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: PAGE_MARGIN,
    info: { Title: `Amend monthly report ${report.month}`, Author: 'Amend' },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve) => doc.on('end', () => resolve(Buffer.concat(chunks))));
  const width = doc.page.width - PAGE_MARGIN * 2;

  const heading = (text: string) => {
    if (doc.y > doc.page.height - 160) doc.addPage();
    doc.moveDown(0.8).fillColor(INK).font('Helvetica-Bold').fontSize(13).text(text).moveDown(0.3);
  };
  const line = (label: string, value: string) => {
    doc
      .font('Helvetica')
      .fontSize(10)
      .fillColor(MUTED)
      .text(label, { continued: true })
      .fillColor(INK)
      .text(`  ${value}`);
  };
  const bars = (values: Record<string, number>) => {
    const entries = Object.entries(values).sort((a, b) => b[1] - a[1]);
    if (entries.length === 0) {
      doc.font('Helvetica').fontSize(10).fillColor(MUTED).text('None this month.');
      return;
    }
    const max = Math.max(...entries.map(([, v]) => v), 1);
    const labelWidth = 150;
    for (const [label, value] of entries) {
      if (doc.y > doc.page.height - 80) doc.addPage();
      const y = doc.y;
      doc
        .font('Helvetica')
        .fontSize(9)
        .fillColor(INK)
        .text(label, PAGE_MARGIN, y, { width: labelWidth - 8 });
      const barWidth = Math.max(1, ((width - labelWidth - 50) * value) / max);
      doc.rect(PAGE_MARGIN + labelWidth, y + 1, barWidth, 9).fill(BAR);
      doc.fillColor(INK).text(String(value), PAGE_MARGIN + labelWidth + barWidth + 6, y);
      doc.x = PAGE_MARGIN;
      doc.y = y + 14;
    }
  };
  const minutes = (value: number | null) =>
    value === null ? '—' : value < 120 ? `${value.toFixed(1)} min` : `${(value / 60).toFixed(1)} h`;
  const seconds = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)} s`);

  doc.font('Helvetica-Bold').fontSize(20).fillColor(INK).text(`Customer data updates — ${report.month}`);
  doc.font('Helvetica').fontSize(9).fillColor(MUTED).text(`Generated ${report.generatedAt} by Amend`);

  heading('Volume');
  line('Change requests received', String(report.volume.total));
  doc.moveDown(0.4).font('Helvetica-Bold').fontSize(10).fillColor(INK).text('By change type');
  bars(report.volume.byField);
  doc.moveDown(0.4).font('Helvetica-Bold').fontSize(10).fillColor(INK).text('By channel');
  bars(report.volume.byChannel);
  doc.moveDown(0.4).font('Helvetica-Bold').fontSize(10).fillColor(INK).text('By risk tier');
  bars(report.volume.byTier);

  heading('Processing time (received to confirmed)');
  line('Completed', String(report.processingTime.completed));
  line('Median', minutes(report.processingTime.medianMinutes));
  line('90th percentile', minutes(report.processingTime.p90Minutes));
  line('Staff handling time', 'not recorded');

  heading('Accuracy (quality review; reverts count as errors)');
  line('Reviewed', `${report.accuracy.reviewed} (${report.accuracy.reviewedWithError} with an error)`);
  line('Reverted', String(report.accuracy.reverts));
  line(
    'Accuracy rate',
    report.accuracy.rate === null ? '— (nothing reviewed)' : `${(report.accuracy.rate * 100).toFixed(1)} %`,
  );

  heading('Unauthorised-change detection');
  line('Anomaly flags confirmed', String(report.unauthorisedChangeDetection.flagsConfirmed));
  line('"This wasn\'t me" reports', String(report.unauthorisedChangeDetection.notMeReports));
  line('Reverts', String(report.unauthorisedChangeDetection.reverts));
  doc.moveDown(0.4).font('Helvetica-Bold').fontSize(10).fillColor(INK).text('Flags raised, by rule');
  bars(report.unauthorisedChangeDetection.flagsRaised);

  heading('Approvals');
  line('Approvals past their deadline', String(report.approvalSlaBreaches));

  heading('Propagation to connected systems');
  for (const system of report.propagation)
    line(
      system.system,
      `${system.confirmed}/${system.deliveries} confirmed, ${system.deadLetters} dead letters, lag median ${seconds(system.medianLagSeconds)}, p90 ${seconds(system.p90LagSeconds)}`,
    );
  if (report.propagation.length === 0) line('Deliveries', 'none this month');

  heading('Compliance');
  line('Changes applied', String(report.compliance.appliedChanges));
  const findings = Object.values(report.compliance.procedureFindings).reduce((sum, n) => sum + n, 0);
  line(
    'Procedure findings',
    findings === 0 ? 'none: every applied change met the procedure' : String(findings),
  );
  if (findings > 0) bars(report.compliance.procedureFindings);
  line('Opt-out deadline breaches', String(report.compliance.optOutDeadlineBreaches));

  doc.end();
  return done;
}
