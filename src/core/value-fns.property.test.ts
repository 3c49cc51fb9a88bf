import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './value-fns.ts';

describe('canonical JSON (properties)', () => {
  it('writes the same bytes as the RFC 8785 reference implementation for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 5_000 },
    );
  });

  it('writes the same bytes for values with undefined members, any strings and any finite numbers', () => {
    const leaf = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.constant(undefined),
      fc.constant(null),
      fc.boolean(),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('node'), { maxLength: 5 }),
      object: fc.dictionary(fc.string({ unit: 'binary' }), tie('node'), { maxKeys: 6 }),
    })).object;
    fc.assert(
      fc.property(value, (object) => {
        let reference: string | undefined;
        try {
          reference = canonicalize(object);
        } catch {
          return; // a lone surrogate: the reference refuses it, and jsonb can hold none
        }
        expect(canonicalJson(object)).toBe(reference);
      }),
      { numRuns: 5_000 },
    );
  });

  it('refuses what JSON cannot hold', () => {
    for (const value of [{ a: Number.NaN }, { a: Number.POSITIVE_INFINITY }, [1n]])
      expect(() => canonicalJson(value)).toThrow();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow();
  });
});
