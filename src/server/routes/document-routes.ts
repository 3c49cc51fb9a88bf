import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { fileTypeFromBuffer } from 'file-type';
import { z } from 'zod';
import { sha256OfBytes } from '../../adapters/document-cipher.ts';
import {
  DOCUMENT_MAX_BYTES,
  readIdentityDocument,
  reviewIdentityDocument,
  uploadIdentityDocument,
} from '../../app/identity-documents.ts';
import { ActorSchema } from '../../core/change-request-types.ts';
import { ChangeRequestViewSchema, IdParamsSchema, ProblemSchema } from '../api-schemas.ts';
import { sendProblem } from '../problem.ts';
import type { ServerDeps } from '../server-deps.ts';
import { changeRequestView } from '../views.ts';

const DocumentSchema = z
  .object({
    id: z.string(),
    changeRequestId: z.string(),
    customerId: z.string(),
    documentType: z.string(),
    contentType: z.string(),
    sizeBytes: z.number(),
    sha256: z.string(),
    keyId: z.string(),
    uploadedBy: ActorSchema,
    uploadedAt: z.string(),
    review: z.unknown().nullable(),
  })
  .meta({ id: 'IdentityDocument' });

const problems = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  413: ProblemSchema,
  415: ProblemSchema,
};

export async function registerDocumentRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  await app.register(fastifyMultipart, {
    limits: { fileSize: DOCUMENT_MAX_BYTES, files: 1, fields: 4 },
    throwFileSizeLimit: true,
  });
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/api/v1/change-requests/:id/documents',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary: 'Upload an identity document (PDF, JPEG or PNG by content; up to 10 MB; stored encrypted)',
        description:
          'multipart/form-data with a `documentType` field (e.g. passport, driver_licence, marriage_certificate) and one `file`.',
        consumes: ['multipart/form-data'],
        params: IdParamsSchema,
        response: { 201: DocumentSchema, ...problems },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart())
        return sendProblem(reply, request, {
          code: 'REQUEST.INVALID',
          message: 'Send the scan as multipart/form-data with a `documentType` field and one `file`.',
          errors: [{ path: 'headers.content-type', message: 'Use multipart/form-data.' }],
        });
      const part = await request.file();
      if (!part)
        return sendProblem(reply, request, {
          code: 'REQUEST.INVALID',
          message: 'Send the scan as a multipart `file`.',
        });
      const bytes = await part.toBuffer();
      const documentType = String(
        (part.fields.documentType as { value?: unknown } | undefined)?.value ?? '',
      ).trim();
      if (!/^[a-z_]{3,40}$/.test(documentType))
        return sendProblem(reply, request, {
          code: 'REQUEST.INVALID',
          message: 'Name the document type, e.g. passport, driver_licence, marriage_certificate.',
          errors: [{ path: 'body.documentType', message: 'Use lowercase letters and underscores.' }],
        });
      const detected = await fileTypeFromBuffer(bytes);
      const result = await uploadIdentityDocument(deps, request.params.id, request.principal!.actor, {
        documentType,
        detectedContentType: detected?.mime ?? null,
        bytes,
        sha256: sha256OfBytes(bytes),
      });
      return result.ok ? reply.code(201).send(result.value) : sendProblem(reply, request, result.error);
    },
  );

  api.get(
    '/api/v1/documents/:id/content',
    {
      config: { action: 'document.read' },
      schema: {
        tags: ['change requests'],
        summary: 'Open a document for review (every opening is audited)',
        params: IdParamsSchema,
      },
    },
    async (request, reply) => {
      const result = await readIdentityDocument(deps, request.params.id, request.principal!.actor);
      if (!result.ok) return sendProblem(reply, request, result.error);
      return reply
        .type(result.value.contentType)
        .header('cache-control', 'no-store')
        .send(Buffer.from(result.value.bytes));
    },
  );

  api.post(
    '/api/v1/documents/:id/review',
    {
      config: { action: 'change_request.verify' },
      schema: {
        tags: ['change requests'],
        summary: "Record the reviewer's decision and checklist; accepted, it verifies the request's identity",
        params: IdParamsSchema,
        body: z.strictObject({
          decision: z.enum(['accepted', 'rejected']),
          checklist: z
            .record(z.string().regex(/^[a-zA-Z]{2,40}$/), z.boolean())
            .refine((items) => Object.keys(items).length > 0, 'List what you checked.'),
          note: z.string().trim().max(2000).optional(),
        }),
        response: { 200: ChangeRequestViewSchema, ...problems, 423: ProblemSchema },
      },
    },
    async (request, reply) => {
      const result = await reviewIdentityDocument(deps, request.params.id, request.principal!.actor, {
        ...request.body,
        note: request.body.note ?? null,
      });
      return result.ok
        ? changeRequestView(result.value, deps.policy)
        : sendProblem(reply, request, result.error);
    },
  );
}
