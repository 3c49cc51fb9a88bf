import { describe, expect, it } from 'vitest';
import { driftedPaths, isConsentWithdrawal } from './consistency-fns.ts';

describe('drift', () => {
  const address = {
    lines: ['1 New Road'],
    locality: 'Fitzroy',
    region: 'VIC',
    postcode: '3065',
    country: 'AU',
  };
  it('finds nothing when every held value matches, whatever the key order', () => {
    expect(
      driftedPaths(
        { postalAddress: address },
        {
          postalAddress: {
            country: 'AU',
            postcode: '3065',
            region: 'VIC',
            locality: 'Fitzroy',
            lines: ['1 New Road'],
          },
        },
      ),
    ).toEqual([]);
  });
  it('compares parts of a field held as separate columns', () => {
    expect(
      driftedPaths(
        { postalAddress: address },
        { 'postalAddress.postcode': '3065', 'postalAddress.locality': 'Carlton' },
      ),
    ).toEqual(['postalAddress.locality']);
  });
  it('ignores fields this change did not touch, and counts a missing customer as drift of everything', () => {
    expect(
      driftedPaths({ phone: '+61499111222' }, { phone: '+61499111222', email: 'old@example.com' }),
    ).toEqual([]);
    expect(driftedPaths({ phone: '+61499111222' }, null)).toEqual(['phone']);
    expect(driftedPaths({ phone: '+61499111222' }, { email: 'x@example.com' })).toEqual(['phone']);
  });
  it('recognises a withdrawn consent', () => {
    const before = { email: { isGranted: true }, sms: { isGranted: false } };
    expect(isConsentWithdrawal(before, { email: false })).toBe(true);
    expect(isConsentWithdrawal(before, { sms: true })).toBe(false);
    expect(isConsentWithdrawal(before, { sms: false })).toBe(false);
  });
});
