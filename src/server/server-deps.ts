import type { Clock, IdSource, Store } from '../app/ports.ts';
import type { Policy } from '../core/policy-types.ts';

export interface ServerDeps {
  readonly store: Store;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly isDatabaseReachable: () => Promise<boolean>;
}
