import type { Action } from '../core/access-matrix.ts';
import { recordEntry } from '../core/audit-draft-fns.ts';
import type { Actor } from '../core/change-request-types.ts';
import type { ApiKeyIssuer, Clock, IdSource, Store } from './ports.ts';

type Deps = {
  readonly store: Pick<Store, 'transaction'>;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly keys: ApiKeyIssuer;
};

/**
 * Adds an API key for an integration (another system that submits changes), optionally limited to some
 * actions. The key is answered once and only its digest is kept.
 */
export async function enrolIntegration(
  deps: Deps,
  name: string,
  scopes: readonly Action[] | null = null,
): Promise<{ id: string; apiKey: string }> {
  const { key, keyHash } = deps.keys.issue();
  const id = deps.ids.newId();
  await deps.store.transaction((tx) =>
    tx.insertApiKey(
      { id, name, role: 'integration', staffUserId: null, keyHash, scopes },
      deps.clock.now().toISOString(),
    ),
  );
  return { id, apiKey: key };
}

/** Revokes an API key at once, audited on the key's own chain. False when no active key has the id. */
export async function revokeApiKey(
  deps: Pick<Deps, 'store' | 'clock'>,
  id: string,
  by: Actor,
): Promise<boolean> {
  const at = deps.clock.now().toISOString();
  return deps.store.transaction(async (tx) => {
    if (!(await tx.revokeApiKey(id, at))) return false;
    await tx.appendAudit([recordEntry(`api_key:${id}`, 'api_key.revoked', at, by)]);
    return true;
  });
}
