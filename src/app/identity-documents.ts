import { decide } from '../core/change-request-fns.ts';
import type { Actor, ChangeRequest } from '../core/change-request-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { saveOutcome } from './change-request-flow.ts';
import {
  type DocumentCipher,
  decisionContext,
  type IdentityDocument,
  type Store,
  type UseCaseContext,
} from './ports.ts';
import { inTransaction } from './transaction-fns.ts';
import { verifyIdentity } from './verify-identity.ts';

/** Types accepted, as detected from the content (never from the name the file came with). */
export const DOCUMENT_CONTENT_TYPES = new Set(['application/pdf', 'image/jpeg', 'image/png']);
export const DOCUMENT_MAX_BYTES = 10 * 1024 * 1024;

type Deps = UseCaseContext & {
  readonly store: Pick<Store, 'transaction'>;
  readonly documents: DocumentCipher;
};

const view = ({
  iv: _iv,
  authTag: _tag,
  ciphertext: _ciphertext,
  ...document
}: IdentityDocument & { iv?: unknown; authTag?: unknown; ciphertext?: unknown }): IdentityDocument =>
  document;

/** Stores an identity document for a request awaiting verification, encrypted; its type was detected from its bytes. */
export async function uploadIdentityDocument(
  deps: Deps,
  changeRequestId: string,
  actor: Actor,
  upload: { documentType: string; detectedContentType: string | null; bytes: Uint8Array; sha256: string },
): Promise<Result<IdentityDocument>> {
  if (!upload.detectedContentType || !DOCUMENT_CONTENT_TYPES.has(upload.detectedContentType))
    return fail(
      'DOCUMENT.TYPE_NOT_ACCEPTED',
      'Send a PDF, JPEG or PNG scan; the file content is not one of these, whatever its name says.',
    );
  if (upload.bytes.length > DOCUMENT_MAX_BYTES)
    return fail('REQUEST.TOO_LARGE', `Send a file of at most ${DOCUMENT_MAX_BYTES / 1024 / 1024} MB.`);
  const sealed = deps.documents.encrypt(upload.bytes);
  const now = deps.clock.now().toISOString();
  return inTransaction(deps.store, async (tx) => {
    const request = await tx.lockChangeRequest(changeRequestId);
    if (!request) return fail('CHANGE_REQUEST.NOT_FOUND', `No change request has id ${changeRequestId}.`);
    if (request.state !== 'awaiting_verification' && request.state !== 'returned_for_clarification')
      return fail(
        'CHANGE_REQUEST.ILLEGAL_TRANSITION',
        `Change request ${changeRequestId} is ${request.state}; documents are for requests awaiting verification or clarification.`,
      );
    const document = {
      id: deps.ids.newId(),
      changeRequestId,
      customerId: request.customerId,
      documentType: upload.documentType,
      contentType: upload.detectedContentType!,
      sizeBytes: upload.bytes.length,
      sha256: upload.sha256,
      keyId: deps.documents.keyId,
      uploadedBy: actor,
      uploadedAt: now,
      review: null,
      ...sealed,
    };
    await tx.insertIdentityDocument(document);
    // The upload also supplies the document to the request: it may be what the request was waiting for.
    const supplied = decide(
      request,
      { type: 'supply_document', by: actor, documentType: document.documentType },
      decisionContext(deps),
    );
    if (!supplied.ok) return supplied;
    const saved = await saveOutcome(tx, { ...supplied.value, customerWrite: null }, request.version, deps);
    if (!saved.ok) return saved;
    await tx.appendAudit([
      {
        chain: request.customerId,
        occurredAt: now,
        actor,
        action: 'verification.document_uploaded',
        changeRequestId,
        details: {
          documentId: document.id,
          documentType: document.documentType,
          contentType: document.contentType,
          sizeBytes: document.sizeBytes,
          sha256: document.sha256,
        },
      },
    ]);
    return ok(view(document));
  });
}

/** Opens a document for the reviewer; every opening is audited. */
export async function readIdentityDocument(
  deps: Deps,
  documentId: string,
  actor: Actor,
): Promise<Result<{ contentType: string; bytes: Uint8Array }>> {
  const now = deps.clock.now().toISOString();
  return inTransaction(deps.store, async (tx) => {
    const document = await tx.findIdentityDocument(documentId);
    if (!document) return fail('DOCUMENT.NOT_FOUND', `No document has id ${documentId}.`);
    const bytes = deps.documents.decrypt(document);
    await tx.appendAudit([
      {
        chain: document.customerId,
        occurredAt: now,
        actor,
        action: 'verification.document_viewed',
        changeRequestId: document.changeRequestId,
        details: { documentId },
      },
    ]);
    return ok({ contentType: document.contentType, bytes });
  });
}

/**
 * A reviewer's decision on a document, with the checklist they went through: accepted, it is the request's
 * `id_document` verification; rejected, a failed one (counting toward the lockout).
 */
export async function reviewIdentityDocument(
  deps: Deps,
  documentId: string,
  actor: Actor,
  review: { decision: 'accepted' | 'rejected'; checklist: Record<string, boolean>; note: string | null },
): Promise<Result<ChangeRequest>> {
  const now = deps.clock.now().toISOString();
  const recorded = await inTransaction(deps.store, async (tx) => {
    const document = await tx.findIdentityDocument(documentId);
    if (!document) return fail('DOCUMENT.NOT_FOUND', `No document has id ${documentId}.`);
    if (review.decision === 'accepted' && Object.values(review.checklist).some((isChecked) => !isChecked))
      return fail(
        'VERIFICATION.EVIDENCE_MISSING',
        'Every checklist item must hold to accept the document; reject it otherwise.',
      );
    if (!(await tx.reviewIdentityDocument(documentId, { ...review, reviewedBy: actor, reviewedAt: now })))
      return fail('DOCUMENT.ALREADY_REVIEWED', `Document ${documentId} was reviewed already.`);
    return ok(document);
  });
  if (!recorded.ok) return recorded;
  return verifyIdentity(deps, recorded.value.changeRequestId, actor, {
    method: 'id_document',
    outcome: review.decision === 'accepted' ? 'passed' : 'failed',
    evidence: {
      documentType: recorded.value.documentType,
      documentReference: documentId,
      checklist: review.checklist,
      note: review.note,
    },
  });
}
