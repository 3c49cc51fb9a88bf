import { isSameValue } from './value-fns.ts';

/**
 * Which of the values a system holds differ from what Amend sent. `observed` is keyed by path: a field
 * (`phone`) or a part of one (`postalAddress.postcode`) when a system holds only parts. Paths of fields not
 * in `expected` are ignored (the system holds them, but this change did not touch them); `observed === null`
 * (the system does not know the customer) counts every expected field as drifted.
 * @example driftedPaths({ phone: '+61…' }, { phone: '+61…', email: 'x' }) // []
 */
export function driftedPaths(
  expected: Readonly<Record<string, unknown>>,
  observed: Readonly<Record<string, unknown>> | null,
): string[] {
  if (observed === null) return Object.keys(expected);
  const drifted: string[] = [];
  for (const [path, value] of Object.entries(observed)) {
    const [field, ...rest] = path.split('.');
    if (!field || !(field in expected)) continue;
    const wanted = rest.reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      expected[field],
    );
    if (!isSameValue(wanted ?? null, value ?? null)) drifted.push(path);
  }
  const observedFields = new Set(Object.keys(observed).map((path) => path.split('.')[0]));
  for (const field of Object.keys(expected)) if (!observedFields.has(field)) drifted.push(field);
  return drifted;
}

/** A consent withdrawn: some channel was granted before and is not after. Spam law sets a deadline on these. */
export function isConsentWithdrawal(previous: unknown, proposed: unknown): boolean {
  const before = previous as Record<string, { isGranted?: boolean }> | null;
  const after = proposed as Record<string, boolean> | null;
  if (!before || !after) return false;
  return Object.entries(after).some(
    ([channel, isGranted]) => isGranted === false && before[channel]?.isGranted === true,
  );
}
