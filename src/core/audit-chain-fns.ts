import type { AuditCheckpoint, AuditEntry, AuditEntryDraft, ChainHead, Sha256Hex } from './audit-types.ts';
import { canonicalJson } from './value-fns.ts';

/** The prevHash of a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The exact text hashed for an entry: canonical JSON (RFC 8785) of every field but the hash itself. */
export function auditEntryDigestInput(entry: Omit<AuditEntry, 'hash'>): string {
  return canonicalJson({
    chain: entry.chain,
    seq: entry.seq,
    prevHash: entry.prevHash,
    occurredAt: entry.occurredAt,
    actor: entry.actor,
    action: entry.action,
    changeRequestId: entry.changeRequestId,
    details: entry.details,
  });
}

/**
 * Chains drafts onto a head. Drafts must all belong to `head.chain`.
 * @example chainEntries({ chain: 'c1', seq: 0, hash: GENESIS_HASH }, [draft], sha256)
 */
export function chainEntries(
  head: ChainHead,
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let previous = head;
  for (const draft of drafts) {
    const unsigned = { ...draft, chain: head.chain, seq: previous.seq + 1, prevHash: previous.hash };
    const entry = { ...unsigned, hash: sha256(auditEntryDigestInput(unsigned)) };
    entries.push(entry);
    previous = { chain: head.chain, seq: entry.seq, hash: entry.hash };
  }
  return entries;
}

export type ChainBreak =
  | { readonly kind: 'hash_mismatch'; readonly chain: string; readonly seq: number }
  | { readonly kind: 'link_broken'; readonly chain: string; readonly seq: number }
  | { readonly kind: 'gap'; readonly chain: string; readonly expectedSeq: number; readonly foundSeq: number };

/**
 * Checks consecutive entries of one chain, continuing from `previous` (the last good head, or genesis).
 * Answers the first break, or the new head.
 */
export function verifyChainSegment(
  previous: ChainHead,
  entries: readonly AuditEntry[],
  sha256: Sha256Hex,
): { readonly head: ChainHead; readonly firstBreak: ChainBreak | null } {
  let head = previous;
  for (const entry of entries) {
    if (entry.seq !== head.seq + 1)
      return {
        head,
        firstBreak: { kind: 'gap', chain: head.chain, expectedSeq: head.seq + 1, foundSeq: entry.seq },
      };
    if (entry.prevHash !== head.hash)
      return { head, firstBreak: { kind: 'link_broken', chain: head.chain, seq: entry.seq } };
    const { hash, ...unsigned } = entry;
    if (sha256(auditEntryDigestInput(unsigned)) !== hash)
      return { head, firstBreak: { kind: 'hash_mismatch', chain: head.chain, seq: entry.seq } };
    head = { chain: head.chain, seq: entry.seq, hash: entry.hash };
  }
  return { head, firstBreak: null };
}

/** The text a checkpoint signs: its sequence, time, the previous signature (so checkpoints chain too) and heads. */
export function checkpointSigningInput(checkpoint: Omit<AuditCheckpoint, 'signature' | 'keyId'>): string {
  const heads = [...checkpoint.heads].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return canonicalJson({
    sequence: checkpoint.sequence,
    createdAt: checkpoint.createdAt,
    previousSignature: checkpoint.previousSignature,
    heads,
  });
}
