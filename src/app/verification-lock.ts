import { fail, ok, type Result } from '../core/result.ts';
import type { Store } from './ports.ts';

/** Refuses while the customer is in the cool-down that follows too many failed identity checks. */
export async function checkVerificationLock(
  tx: Pick<Store, 'verificationLockUntil'>,
  customerId: string,
  now: string,
): Promise<Result<void>> {
  return refuseWhileLocked(await tx.verificationLockUntil(customerId, now));
}

export function refuseWhileLocked(lockedUntil: string | null): Result<void> {
  return lockedUntil
    ? fail(
        'CUSTOMER.VERIFICATION_LOCKED',
        `Too many failed identity checks: changes for this customer are locked until ${lockedUntil}.`,
        { lockedUntil },
      )
    : ok(undefined);
}
