import type { Role } from '../core/change-request-types.ts';
import type { ApiKeyIssuer, Clock, IdSource, StaffUser, Store } from './ports.ts';

type Deps = {
  readonly store: Pick<Store, 'transaction'>;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly keys: ApiKeyIssuer;
};

/** Adds a staff member with an API key. The key is answered once and only its digest is kept. */
export async function enrolStaffUser(
  deps: Deps,
  input: { email: string; displayName: string; role: Role },
): Promise<{ user: StaffUser; apiKey: string }> {
  const now = deps.clock.now().toISOString();
  const user: StaffUser = {
    id: deps.ids.newId(),
    email: input.email.toLowerCase(),
    displayName: input.displayName,
    role: input.role,
  };
  const { key, keyHash } = deps.keys.issue();
  await deps.store.transaction(async (tx) => {
    await tx.insertStaffUser(user, now);
    await tx.insertApiKey(
      {
        id: deps.ids.newId(),
        name: `${input.displayName} (${input.role})`,
        role: input.role,
        staffUserId: user.id,
        keyHash,
      },
      now,
    );
  });
  return { user, apiKey: key };
}

/** Adds an API key for an integration (another system that submits changes). */
export async function enrolIntegration(deps: Deps, name: string): Promise<{ id: string; apiKey: string }> {
  const { key, keyHash } = deps.keys.issue();
  const id = deps.ids.newId();
  await deps.store.transaction((tx) =>
    tx.insertApiKey(
      { id, name, role: 'integration', staffUserId: null, keyHash },
      deps.clock.now().toISOString(),
    ),
  );
  return { id, apiKey: key };
}
