import type {
  AuditCheckpoint,
  AuditEntry,
  AuditEntryDraft,
  ChainHead,
  HashedAuditEntry,
  Sha256Hex,
} from './audit-types.ts';
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
 * Chains drafts onto a head. Drafts must all belong to `head.chain`. Each entry keeps the text its hash covers
 * (`hashedJson`), which is stored beside it: verification hashes stored bytes, never a re-encoding.
 * @example chainEntries({ chain: 'c1', seq: 0, hash: GENESIS_HASH }, [draft], sha256)
 */
export function chainEntries(
  head: ChainHead,
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
): HashedAuditEntry[] {
  const entries: HashedAuditEntry[] = [];
  let previous = head;
  for (const draft of drafts) {
    const unsigned = { ...draft, chain: head.chain, seq: previous.seq + 1, prevHash: previous.hash };
    const hashedJson = auditEntryDigestInput(unsigned);
    const entry = { ...unsigned, hash: sha256(hashedJson), hashedJson };
    entries.push(entry);
    previous = { chain: head.chain, seq: entry.seq, hash: entry.hash };
  }
  return entries;
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
