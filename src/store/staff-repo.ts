import type { Kysely, Selectable } from 'kysely';
import type {
  ApiKeyRecord,
  ApiKeySummary,
  FieldCipher,
  StaffCredentials,
  StaffSession,
  StaffUser,
} from '../app/ports.ts';
import type { Role } from '../core/change-request-types.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { ApiKeyTable, Database, StaffUserTable } from './schema-types.ts';

type Executor = Kysely<Database>;

const staffUserFromRow = (
  row: Pick<Selectable<StaffUserTable>, 'id' | 'email' | 'display_name' | 'role'>,
) => ({
  id: row.id,
  email: row.email,
  displayName: row.display_name,
  role: row.role as Role,
});

const apiKeyFromRow = (row: Selectable<ApiKeyTable>): ApiKeySummary => ({
  id: row.id,
  name: row.name,
  role: row.role as Role,
  staffUserId: row.staff_user_id,
  scopes: parsed<string[] | null>(row.scopes),
  createdAt: iso(row.created_at),
  revokedAt: isoOrNull(row.revoked_at),
  lastUsedAt: isoOrNull(row.last_used_at),
});

export async function findApiKeyByHash(db: Executor, keyHash: string): Promise<ApiKeySummary | null> {
  const row = await db
    .selectFrom('api_key')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? apiKeyFromRow(row) : null;
}

export async function listApiKeys(db: Executor): Promise<ApiKeySummary[]> {
  return (await db.selectFrom('api_key').selectAll().orderBy('created_at').execute()).map(apiKeyFromRow);
}

export async function revokeApiKey(db: Executor, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('api_key')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function touchApiKey(db: Executor, id: string, at: string): Promise<void> {
  await db.updateTable('api_key').set({ last_used_at: at }).where('id', '=', id).execute();
}

export async function insertStaffUser(db: Executor, user: StaffUser, now: string): Promise<void> {
  await db
    .insertInto('staff_user')
    .values({
      id: user.id,
      email: user.email,
      display_name: user.displayName,
      role: user.role,
      created_at: now,
    })
    .execute();
}

export async function insertApiKey(
  db: Executor,
  key: Omit<ApiKeyRecord, 'scopes'> & { keyHash: string; scopes?: readonly string[] | null },
  now: string,
): Promise<void> {
  await db
    .insertInto('api_key')
    .values({
      id: key.id,
      name: key.name,
      key_hash: key.keyHash,
      role: key.role,
      staff_user_id: key.staffUserId,
      scopes: key.scopes ? json(key.scopes) : null,
      created_at: now,
    })
    .execute();
}

export async function listStaffUsers(db: Executor): Promise<StaffUser[]> {
  const rows = await db.selectFrom('staff_user').selectAll().orderBy('email').execute();
  return rows.map(staffUserFromRow);
}

export async function findStaffUser(db: Executor, id: string): Promise<StaffUser | null> {
  const row = await db.selectFrom('staff_user').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? staffUserFromRow(row) : null;
}

export async function findStaffCredentials(
  db: Executor,
  cipher: FieldCipher,
  email: string,
): Promise<StaffCredentials | null> {
  const row = await db
    .selectFrom('staff_user')
    .selectAll()
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
  if (!row) return null;
  return {
    user: staffUserFromRow(row),
    passwordHash: row.password_hash,
    totpSecret: row.totp_secret ? cipher.open(row.totp_secret, row.id) : null,
    totpLastStep: row.totp_last_step === null ? null : Number(row.totp_last_step),
    failedSignIns: row.failed_sign_ins,
    lockedUntil: isoOrNull(row.locked_until),
  };
}

export async function updateStaffSignInState(
  db: Executor,
  userId: string,
  state: { failedSignIns: number; lockedUntil: string | null; totpLastStep?: number },
): Promise<void> {
  await db
    .updateTable('staff_user')
    .set({
      failed_sign_ins: state.failedSignIns,
      locked_until: state.lockedUntil,
      ...(state.totpLastStep === undefined ? {} : { totp_last_step: state.totpLastStep }),
    })
    .where('id', '=', userId)
    .execute();
}

export async function setStaffCredentials(
  db: Executor,
  cipher: FieldCipher,
  userId: string,
  credentials: { passwordHash: string; totpSecret?: string },
): Promise<void> {
  await db
    .updateTable('staff_user')
    .set({
      password_hash: credentials.passwordHash,
      failed_sign_ins: 0,
      locked_until: null,
      ...(credentials.totpSecret
        ? { totp_secret: cipher.seal(credentials.totpSecret, userId), totp_last_step: null }
        : {}),
    })
    .where('id', '=', userId)
    .execute();
}

export async function insertStaffSession(
  db: Executor,
  session: {
    id: string;
    staffUserId: string;
    tokenHash: string;
    csrfHash: string;
    now: string;
    absoluteExpiresAt: string;
  },
): Promise<void> {
  await db
    .insertInto('staff_session')
    .values({
      id: session.id,
      staff_user_id: session.staffUserId,
      token_hash: session.tokenHash,
      csrf_hash: session.csrfHash,
      created_at: session.now,
      last_seen_at: session.now,
      absolute_expires_at: session.absoluteExpiresAt,
    })
    .execute();
}

export async function findStaffSession(db: Executor, tokenHash: string): Promise<StaffSession | null> {
  const row = await db
    .selectFrom('staff_session')
    .innerJoin('staff_user', 'staff_user.id', 'staff_session.staff_user_id')
    .select([
      'staff_session.id',
      'staff_session.csrf_hash',
      'staff_session.created_at',
      'staff_session.last_seen_at',
      'staff_session.absolute_expires_at',
      'staff_user.id as user_id',
      'staff_user.email',
      'staff_user.display_name',
      'staff_user.role',
    ])
    .where('staff_session.token_hash', '=', tokenHash)
    .where('staff_session.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    user: staffUserFromRow({ ...row, id: row.user_id }),
    csrfHash: row.csrf_hash,
    createdAt: iso(row.created_at),
    lastSeenAt: iso(row.last_seen_at),
    absoluteExpiresAt: iso(row.absolute_expires_at),
  };
}

export async function touchStaffSession(db: Executor, id: string, at: string): Promise<void> {
  await db.updateTable('staff_session').set({ last_seen_at: at }).where('id', '=', id).execute();
}

export async function revokeStaffSessions(
  db: Executor,
  which: { sessionId: string } | { staffUserId: string; exceptSessionId?: string },
  at: string,
): Promise<number> {
  let query = db.updateTable('staff_session').set({ revoked_at: at }).where('revoked_at', 'is', null);
  if ('sessionId' in which) query = query.where('id', '=', which.sessionId);
  else {
    query = query.where('staff_user_id', '=', which.staffUserId);
    if (which.exceptSessionId) query = query.where('id', '<>', which.exceptSessionId);
  }
  return Number((await query.executeTakeFirst()).numUpdatedRows);
}
