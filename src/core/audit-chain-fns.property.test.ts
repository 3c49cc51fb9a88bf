import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditEntryDigestInput, chainEntries, GENESIS_HASH } from './audit-chain-fns.ts';
import type { AuditEntryDraft } from './audit-types.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const draftArb: fc.Arbitrary<AuditEntryDraft> = fc.record({
  chain: fc.constant('customer-1'),
  occurredAt: fc
    .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  actor: fc.record({
    kind: fc.constantFrom('staff' as const, 'system' as const),
    id: fc.string({ maxLength: 8 }),
    role: fc.constant(null),
  }),
  action: fc.constantFrom('change_request.received', 'change_request.applied', 'customer.created'),
  changeRequestId: fc.option(fc.uuid(), { nil: null }),
  details: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
});

const genesis = { chain: 'customer-1', seq: 0, hash: GENESIS_HASH };

describe('audit chain (properties)', () => {
  it('hashes exactly the text it keeps, and links each entry to the one before, whatever the content', () => {
    fc.assert(
      fc.property(fc.array(draftArb, { minLength: 1, maxLength: 20 }), (drafts) => {
        const stored: AuditEntryDraft[] = JSON.parse(JSON.stringify(drafts)); // as jsonb keeps them
        const entries = chainEntries(genesis, stored, sha256);
        expect(entries.map((e) => e.seq)).toEqual(drafts.map((_, i) => i + 1));
        entries.forEach(({ hashedJson, hash, ...unhashed }, i) => {
          expect(hash).toBe(sha256(hashedJson));
          expect(hashedJson).toBe(auditEntryDigestInput(unhashed));
          expect(JSON.parse(hashedJson)).toEqual({ ...stored[i], seq: i + 1, prevHash: unhashed.prevHash });
          expect(unhashed.prevHash).toBe(i === 0 ? GENESIS_HASH : entries[i - 1]!.hash);
        });
      }),
    );
  });

  it('keeps the same text for the same content, whatever the key order', () => {
    fc.assert(
      fc.property(draftArb, (draft) => {
        const reordered = reversedKeys(draft) as AuditEntryDraft;
        const [first] = chainEntries(genesis, [draft], sha256);
        const [again] = chainEntries(genesis, [reordered], sha256);
        expect(again!.hashedJson).toBe(first!.hashedJson);
      }),
    );
  });
});

/** The same value with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reversedKeys(inner)]),
  );
}
