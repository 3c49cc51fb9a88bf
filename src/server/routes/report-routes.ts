import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { buildMonthlyReport } from '../../app/build-monthly-report.ts';
import { recordQualityReview } from '../../app/record-quality-review.ts';
import { reviewProcedureCompleteness } from '../../app/review-procedure-completeness.ts';
import { monthlyReportRows } from '../../core/monthly-report-fns.ts';
import { FINDING_CODES, monthRange } from '../../core/procedure-review-fns.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

export const MonthSchema = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Give the month as YYYY-MM, e.g. 2026-11.')
  .describe('The month, YYYY-MM (UTC).');

const problems = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
};

export function registerReportRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/audit/review',
    {
      config: { action: 'audit.review' },
      schema: {
        tags: ['audit'],
        summary: 'Every change applied in the month that lacks anything the procedure requires (step 8.1)',
        querystring: z.strictObject({ month: MonthSchema }),
        response: {
          200: z.object({
            month: z.string(),
            appliedChanges: z.number(),
            findings: z.array(
              z.object({
                changeRequestId: z.string(),
                customerId: z.string(),
                code: z.enum(FINDING_CODES),
                message: z.string(),
              }),
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => reviewProcedureCompleteness(deps, request.query.month),
  );

  api.get(
    '/api/v1/reports/monthly',
    {
      config: { action: 'report.read' },
      schema: {
        tags: ['reports'],
        summary:
          'The monthly report (step 8.3): volume, speed, accuracy, unauthorised changes, SLA, propagation, compliance',
        querystring: z.strictObject({
          month: MonthSchema,
          format: z.enum(['json', 'csv', 'pdf']).default('json'),
        }),
      },
    },
    async (request, reply) => {
      const report = await buildMonthlyReport(deps, request.query.month);
      const name = `amend-report-${report.month}`;
      if (request.query.format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}.csv"`)
          .send(stringify(monthlyReportRows(report)));
      if (request.query.format === 'pdf')
        return reply
          .type('application/pdf')
          .header('content-disposition', `attachment; filename="${name}.pdf"`)
          .send(
            // pdfkit is loaded on the first PDF asked for, not by every server.
            await (await import('../../adapters/report/monthly-report-pdf.ts')).renderMonthlyReportPdf(
              report,
            ),
          );
      return report;
    },
  );

  api.get(
    '/api/v1/quality-reviews/sample',
    {
      config: { action: 'change_request.quality_review' },
      schema: {
        tags: ['reports'],
        summary: 'A random sample of the month’s completed requests not yet quality-reviewed',
        querystring: z.strictObject({
          month: MonthSchema,
          size: z.coerce.number().int().min(1).max(100).default(10),
        }),
        response: { 200: z.object({ changeRequestIds: z.array(z.string()) }), ...problems },
      },
    },
    async (request) => {
      const { from, to } = monthRange(request.query.month);
      return { changeRequestIds: await deps.store.qualitySample(from, to, request.query.size) };
    },
  );

  api.post(
    '/api/v1/change-requests/:id/quality-review',
    {
      config: { action: 'change_request.quality_review' },
      schema: {
        tags: ['reports'],
        summary: 'Record a quality review of a completed request (feeds the accuracy rate)',
        params: z.object({ id: z.uuid() }),
        body: z.strictObject({ hasError: z.boolean(), note: z.string().trim().max(2000).optional() }),
        response: { 200: z.object({ changeRequestId: z.string(), hasError: z.boolean() }), ...problems },
      },
    },
    async (request, reply) => {
      const result = await recordQualityReview(deps, request.params.id, request.principal!.actor, {
        hasError: request.body.hasError,
        note: request.body.note ?? null,
      });
      return result.ok ? result.value : sendProblem(reply, request, result.error);
    },
  );
}
