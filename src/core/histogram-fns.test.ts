import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentileOfHistogram } from './histogram-fns.ts';

/** percentile_cont over the values themselves, as PostgreSQL defines it. */
function percentileOfValues(values: readonly number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = sorted[Math.floor(position)]!;
  const upper = sorted[Math.ceil(position)]!;
  return lower + (upper - lower) * (position - Math.floor(position));
}

describe('the percentile of a histogram', () => {
  it('interpolates between the values on either side of the position', () => {
    expect(
      percentileOfHistogram(
        [
          { value: 3, count: 2 },
          { value: 1, count: 2 },
        ],
        0.5,
      ),
    ).toBe(2);
    expect(percentileOfHistogram([{ value: 10, count: 1 }], 0.9)).toBe(10);
    expect(
      percentileOfHistogram(
        [
          { value: 1, count: 9 },
          { value: 101, count: 1 },
        ],
        0.9,
      ),
    ).toBeCloseTo(11);
  });

  it('is null when nothing was counted', () => {
    expect(percentileOfHistogram([], 0.5)).toBeNull();
    expect(percentileOfHistogram([{ value: 4, count: 0 }], 0.5)).toBeNull();
  });

  it('equals the percentile of the values it counts, in any order of bins', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ value: fc.integer({ min: 0, max: 50 }), count: fc.integer({ min: 0, max: 5 }) }),
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (bins, fraction) => {
          const values = bins.flatMap((bin) => Array.from({ length: bin.count }, () => bin.value));
          const expected = percentileOfValues(values, fraction);
          const actual = percentileOfHistogram(bins, fraction);
          if (expected === null) expect(actual).toBeNull();
          else expect(actual).toBeCloseTo(expected, 9);
        },
      ),
    );
  });
});
