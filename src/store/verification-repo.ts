import type { Kysely, Selectable } from 'kysely';
import type { DocumentReview, OtpChallenge, SealedDocument } from '../app/ports.ts';
import type { Actor } from '../core/change-request-types.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { Database, OtpChallengeTable } from './schema-types.ts';

type Executor = Kysely<Database>;

const fromRow = (row: Selectable<OtpChallengeTable>): OtpChallenge => ({
  id: row.id,
  changeRequestId: row.change_request_id,
  customerId: row.customer_id,
  channel: row.channel as OtpChallenge['channel'],
  destinationMasked: row.destination_masked,
  codeHash: row.code_hash,
  expiresAt: iso(row.expires_at),
  attempts: row.attempts,
  usedAt: isoOrNull(row.used_at),
  createdAt: iso(row.created_at),
});

export async function insertOtpChallenge(db: Executor, challenge: OtpChallenge): Promise<void> {
  await db
    .insertInto('otp_challenge')
    .values({
      id: challenge.id,
      change_request_id: challenge.changeRequestId,
      customer_id: challenge.customerId,
      channel: challenge.channel,
      destination_masked: challenge.destinationMasked,
      code_hash: challenge.codeHash,
      expires_at: challenge.expiresAt,
      attempts: challenge.attempts,
      created_at: challenge.createdAt,
    })
    .execute();
}

export async function lockOtpChallenge(db: Executor, id: string): Promise<OtpChallenge | null> {
  const row = await db
    .selectFrom('otp_challenge')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row ? fromRow(row) : null;
}

export async function updateOtpChallenge(
  db: Executor,
  id: string,
  changes: { attempts: number; usedAt: string | null },
): Promise<void> {
  await db
    .updateTable('otp_challenge')
    .set({ attempts: changes.attempts, used_at: changes.usedAt })
    .where('id', '=', id)
    .execute();
}

export async function verificationLockUntil(
  db: Executor,
  customerId: string,
  now: string,
): Promise<string | null> {
  const row = await db
    .selectFrom('verification_lock')
    .select('locked_until')
    .where('customer_id', '=', customerId)
    .where('locked_until', '>', new Date(now))
    .executeTakeFirst();
  return row ? iso(row.locked_until) : null;
}

export async function lockVerification(
  db: Executor,
  customerId: string,
  until: string,
  failures: number,
): Promise<void> {
  await db
    .insertInto('verification_lock')
    .values({ customer_id: customerId, locked_until: until, failures })
    .onConflict((conflict) => conflict.column('customer_id').doUpdateSet({ locked_until: until, failures }))
    .execute();
}

export async function setSecurityQuestions(
  db: Executor,
  customerId: string,
  questions: readonly { question: string; answerHash: string }[],
  at: string,
): Promise<void> {
  await db.deleteFrom('security_question').where('customer_id', '=', customerId).execute();
  if (questions.length === 0) return;
  await db
    .insertInto('security_question')
    .values(
      questions.map((q) => ({
        customer_id: customerId,
        question: q.question,
        answer_hash: q.answerHash,
        set_at: at,
      })),
    )
    .execute();
}

export async function securityQuestions(
  db: Executor,
  customerId: string,
): Promise<{ question: string; answerHash: string; setAt: string }[]> {
  const rows = await db
    .selectFrom('security_question')
    .selectAll()
    .where('customer_id', '=', customerId)
    .orderBy('question')
    .execute();
  return rows.map((row) => ({ question: row.question, answerHash: row.answer_hash, setAt: iso(row.set_at) }));
}

export async function insertIdentityDocument(db: Executor, document: SealedDocument): Promise<void> {
  await db
    .insertInto('identity_document')
    .values({
      id: document.id,
      change_request_id: document.changeRequestId,
      customer_id: document.customerId,
      document_type: document.documentType,
      content_type: document.contentType,
      size_bytes: document.sizeBytes,
      sha256: document.sha256,
      key_id: document.keyId,
      iv: Buffer.from(document.iv),
      auth_tag: Buffer.from(document.authTag),
      ciphertext: Buffer.from(document.ciphertext),
      uploaded_by: json(document.uploadedBy),
      uploaded_at: document.uploadedAt,
    })
    .execute();
}

export async function findIdentityDocument(db: Executor, id: string): Promise<SealedDocument | null> {
  const row = await db.selectFrom('identity_document').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    changeRequestId: row.change_request_id,
    customerId: row.customer_id,
    documentType: row.document_type,
    contentType: row.content_type,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    keyId: row.key_id,
    iv: row.iv,
    authTag: row.auth_tag,
    ciphertext: row.ciphertext,
    uploadedBy: parsed<Actor>(row.uploaded_by),
    uploadedAt: iso(row.uploaded_at),
    review: row.review ? parsed<DocumentReview>(row.review) : null,
  };
}

export async function reviewIdentityDocument(
  db: Executor,
  id: string,
  review: DocumentReview,
): Promise<boolean> {
  const result = await db
    .updateTable('identity_document')
    .set({ review: json(review) })
    .where('id', '=', id)
    .where('review', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertVaultToken(
  db: Executor,
  entry: {
    token: string;
    kind: 'card' | 'bank_account';
    brand?: string;
    last4?: string;
    expiryMonth?: number;
    expiryYear?: number;
    maskedIban?: string;
    at: string;
  },
): Promise<void> {
  await db
    .insertInto('vault_token')
    .values({
      token: entry.token,
      kind: entry.kind,
      brand: entry.brand ?? null,
      last4: entry.last4 ?? null,
      expiry_month: entry.expiryMonth ?? null,
      expiry_year: entry.expiryYear ?? null,
      masked_iban: entry.maskedIban ?? null,
      created_at: entry.at,
    })
    .execute();
}

export async function insertSignInChallenge(
  db: Executor,
  challenge: { id: string; customerId: string; codeHash: string; expiresAt: string; now: string },
): Promise<void> {
  await db
    .insertInto('customer_sign_in')
    .values({
      id: challenge.id,
      customer_id: challenge.customerId,
      code_hash: challenge.codeHash,
      expires_at: challenge.expiresAt,
      created_at: challenge.now,
    })
    .execute();
}

/** Wrong sign-in codes tried for a customer since `since`, across all their challenges. */
export async function signInFailuresSince(db: Executor, customerId: string, since: string): Promise<number> {
  const row = await db
    .selectFrom('customer_sign_in')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('attempts'), eb.val(0)).as('failures'))
    .where('customer_id', '=', customerId)
    .where('created_at', '>=', new Date(since))
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.failures);
}

export async function lockSignInChallenge(db: Executor, id: string) {
  const row = await db
    .selectFrom('customer_sign_in')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row
    ? {
        id: row.id,
        customerId: row.customer_id,
        codeHash: row.code_hash,
        expiresAt: iso(row.expires_at),
        attempts: row.attempts,
        usedAt: isoOrNull(row.used_at),
      }
    : null;
}

export async function updateSignInChallenge(
  db: Executor,
  id: string,
  changes: { attempts: number; usedAt: string | null },
): Promise<void> {
  await db
    .updateTable('customer_sign_in')
    .set({ attempts: changes.attempts, used_at: changes.usedAt })
    .where('id', '=', id)
    .execute();
}

export async function insertCustomerSession(
  db: Executor,
  session: { id: string; customerId: string; tokenHash: string; authenticatedAt: string; expiresAt: string },
): Promise<void> {
  await db
    .insertInto('customer_session')
    .values({
      id: session.id,
      customer_id: session.customerId,
      token_hash: session.tokenHash,
      authenticated_at: session.authenticatedAt,
      expires_at: session.expiresAt,
      created_at: session.authenticatedAt,
    })
    .execute();
}

export async function findCustomerSession(db: Executor, tokenHash: string, now: string) {
  const row = await db
    .selectFrom('customer_session')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('expires_at', '>', new Date(now))
    .executeTakeFirst();
  return row
    ? {
        id: row.id,
        customerId: row.customer_id,
        authenticatedAt: iso(row.authenticated_at),
        expiresAt: iso(row.expires_at),
      }
    : null;
}
