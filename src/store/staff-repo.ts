import type { Kysely } from 'kysely';
import type { ApiKeyRecord, StaffUser } from '../app/ports.ts';
import type { Role } from '../core/change-request-types.ts';
import type { Database } from './schema-types.ts';

type Executor = Kysely<Database>;

export async function findApiKeyByHash(db: Executor, keyHash: string): Promise<ApiKeyRecord | null> {
  const row = await db
    .selectFrom('api_key')
    .select(['id', 'name', 'role', 'staff_user_id'])
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? { id: row.id, name: row.name, role: row.role as Role, staffUserId: row.staff_user_id } : null;
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
  key: ApiKeyRecord & { keyHash: string },
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
      created_at: now,
    })
    .execute();
}

export async function listStaffUsers(db: Executor): Promise<StaffUser[]> {
  const rows = await db.selectFrom('staff_user').selectAll().orderBy('email').execute();
  return rows.map((row) => ({
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: row.role as Role,
  }));
}
