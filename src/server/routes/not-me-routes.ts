import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { reportNotMe } from '../../app/report-not-me.ts';
import { ERROR_CATALOGUE } from '../../core/error-catalogue.ts';
import type { DomainError } from '../../core/result.ts';
import { ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import { PUBLIC_RATE_LIMITS } from '../public-rate-limits.ts';
import type { ServerDeps } from '../server-deps.ts';

const TokenParamsSchema = z.object({
  token: z
    .string()
    .min(10)
    .max(200)
    .regex(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]+$/, 'Use the link from the email unchanged.'),
});

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const page = (
  title: string,
  body: string,
) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font-family:Arial,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}
button{background:#b00020;color:#fff;border:0;padding:.8rem 1.2rem;font-size:1rem;border-radius:4px;cursor:pointer}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

const wantsHtml = (request: FastifyRequest) =>
  !String(request.headers.accept ?? '').includes('application/json');

/**
 * The customer's side of "this wasn't me": no sign-in, the signed link is the key. GET only shows a button,
 * so mail scanners that open links change nothing; POST makes the report.
 */
export function registerNotMeRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const failure = (request: FastifyRequest, reply: FastifyReply, error: DomainError) =>
    wantsHtml(request)
      ? reply
          .code(ERROR_CATALOGUE[error.code].status)
          .type('text/html')
          .send(
            page(
              'We could not use this link',
              `<p>${escapeHtml(error.message)}</p><p>Call us on ${escapeHtml(deps.confirmations.support.phone)}.</p>`,
            ),
          )
      : sendProblem(reply, request, error);

  api.get(
    '/not-me/:token',
    {
      schema: {
        tags: ['customers'],
        summary: '"This wasn\'t me": the page behind the link in a confirmation',
        params: TokenParamsSchema,
        security: [],
      },
    },
    async (_request, reply) =>
      reply.type('text/html').send(
        page(
          'Did you not make this change?',
          `<p>If you did not ask us to change your details, press the button. We will stop any further changes to your account straight away, and a team lead will look into it.</p>
<form method="post"><button type="submit">This wasn't me</button></form>`,
        ),
      ),
  );

  api.post(
    '/not-me/:token',
    {
      config: { rateLimit: PUBLIC_RATE_LIMITS.notMe },
      schema: {
        tags: ['customers'],
        summary: "Report a change as not the customer's: freezes the record, opens a high-priority case",
        params: TokenParamsSchema,
        security: [],
        response: {
          200: z.union([z.object({ caseId: z.string(), whatHappensNext: z.array(z.string()) }), z.string()]),
          404: ProblemSchema,
          409: ProblemSchema,
          410: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await reportNotMe(deps, request.params.token);
      if (!result.ok) return failure(request, reply, result.error);
      const whatHappensNext = [
        'We have stopped all changes to your account.',
        'A team lead is reviewing the change now and will contact you using the details we held before it, usually within one business day.',
        'If it was not you, we will put your previous details back everywhere we had sent the change, and confirm when it is done.',
        `If you need us sooner, call ${deps.confirmations.support.phone}.`,
      ];
      if (!wantsHtml(request)) return { caseId: result.value.caseId, whatHappensNext };
      return reply
        .type('text/html')
        .send(
          page(
            'Thank you — we have stopped all changes',
            `<ul>${whatHappensNext.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul><p>Your reference: ${escapeHtml(result.value.caseId.slice(0, 8))}</p>`,
          ),
        );
    },
  );
}
