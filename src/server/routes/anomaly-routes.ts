import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { reviewAnomalyFlag } from '../../app/review-anomaly-flag.ts';
import { ANOMALY_RULES } from '../../core/anomaly-fns.ts';
import { ActorSchema } from '../../core/change-request-types.ts';
import { SeveritySchema } from '../../core/policy-types.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';

const AnomalyFlagSchema = z
  .object({
    id: z.string(),
    rule: z.enum(ANOMALY_RULES),
    severity: SeveritySchema,
    customerId: z.string(),
    changeRequestId: z.string(),
    subject: z
      .string()
      .describe('What the flag is about: customer:<id>, or the source (ip:…, key:…, staff:…).'),
    evidence: z.record(z.string(), z.unknown()),
    status: z.enum(['open', 'dismissed', 'confirmed']),
    raisedAt: z.string(),
    reviewedBy: ActorSchema.nullable(),
    reviewedAt: z.string().nullable(),
    reviewReason: z.string().nullable(),
  })
  .meta({ id: 'AnomalyFlag' });

const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function registerAnomalyRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/anomalies',
    {
      config: { action: 'anomaly.read' },
      schema: {
        tags: ['anomalies'],
        summary: 'The anomaly review queue (procedure step 8.2)',
        querystring: z.strictObject({
          status: z.enum(['open', 'dismissed', 'confirmed']).default('open'),
          severity: SeveritySchema.optional(),
          rule: z.enum(ANOMALY_RULES).optional(),
          customerId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.uuid().optional(),
        }),
        response: {
          200: z.object({ items: z.array(AnomalyFlagSchema), nextCursor: z.string().nullable() }),
          ...problems,
        },
      },
    },
    async (request) => deps.store.listAnomalyFlags(request.query),
  );

  for (const [verb, decision, summary] of [
    ['dismiss', 'dismissed', 'Dismiss a flag, with the reason it is not a concern'],
    ['confirm', 'confirmed', 'Confirm a flag as an unauthorised or suspicious change'],
  ] as const) {
    api.post(
      `/api/v1/anomalies/:id/${verb}`,
      {
        config: { action: 'anomaly.review' },
        schema: {
          tags: ['anomalies'],
          summary,
          params: z.object({ id: z.uuid() }),
          body: z.strictObject({ reason: z.string().trim().min(1).max(2000) }),
          response: { 200: AnomalyFlagSchema, ...problems },
        },
      },
      async (request, reply) => {
        const result = await reviewAnomalyFlag(
          deps,
          request.params.id,
          request.principal!.actor,
          decision,
          request.body.reason,
        );
        return result.ok ? result.value : sendProblem(reply, request, result.error);
      },
    );
  }
}
