import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainEntries, GENESIS_HASH, verifyChainSegment } from './audit-chain-fns.ts';
import type { AuditEntry, AuditEntryDraft } from './audit-types.ts';

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
  it('verifies any chain it built, whatever the content', () => {
    fc.assert(
      fc.property(fc.array(draftArb, { minLength: 1, maxLength: 20 }), (drafts) => {
        const entries = chainEntries(genesis, JSON.parse(JSON.stringify(drafts)), sha256);
        expect(verifyChainSegment(genesis, entries, sha256).firstBreak).toBeNull();
        expect(entries.map((e) => e.seq)).toEqual(drafts.map((_, i) => i + 1));
      }),
    );
  });

  it('names the first edited, removed or reordered entry', () => {
    fc.assert(
      fc.property(
        fc.array(draftArb, { minLength: 2, maxLength: 15 }),
        fc.nat(),
        fc.constantFrom('edit', 'delete', 'swap'),
        (drafts, pick, tampering) => {
          const entries: AuditEntry[] = chainEntries(genesis, JSON.parse(JSON.stringify(drafts)), sha256);
          const index = pick % (entries.length - 1);
          const tampered = [...entries];
          if (tampering === 'edit')
            tampered[index] = { ...entries[index]!, details: { ...entries[index]!.details, forged: true } };
          if (tampering === 'delete') tampered.splice(index, 1);
          if (tampering === 'swap')
            [tampered[index], tampered[index + 1]] = [entries[index + 1]!, entries[index]!];
          const { firstBreak } = verifyChainSegment(genesis, tampered, sha256);
          expect(firstBreak).not.toBeNull();
          const seq = firstBreak?.kind === 'gap' ? firstBreak.expectedSeq : firstBreak?.seq;
          expect(seq).toBe(index + 1);
        },
      ),
    );
  });
});
