import type { Store, UseCaseContext } from '../app/ports.ts';

export interface ServerDeps extends UseCaseContext {
  readonly store: Store;
  readonly isDatabaseReachable: () => Promise<boolean>;
}
