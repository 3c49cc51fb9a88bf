import { checkpointSigningInput, GENESIS_HASH, verifyChainSegment } from '../core/audit-chain-fns.ts';
import type { ChainHead, Sha256Hex } from '../core/audit-types.ts';
import type { AuditSigner, Store, StoredAuditEntry } from './ports.ts';

export type AuditProblemKind =
  | 'hash_mismatch'
  | 'link_broken'
  | 'gap'
  | 'head_mismatch'
  | 'chain_missing'
  | 'checkpoint_signature'
  | 'checkpoint_entry_missing'
  | 'checkpoint_hash_mismatch';

export interface AuditProblem {
  readonly kind: AuditProblemKind;
  readonly chain: string | null;
  readonly seq: number | null;
  readonly entryId: number | null;
  readonly message: string;
}

export interface AuditVerification {
  readonly isIntact: boolean;
  readonly entriesChecked: number;
  readonly chainsChecked: number;
  readonly checkpointsChecked: number;
  readonly firstBroken: AuditProblem | null;
  readonly problems: AuditProblem[];
}

const PAGE_SIZE = 5000;
const MAX_PROBLEMS = 100;

type Deps = {
  readonly store: Pick<Store, 'auditEntriesInChainOrder' | 'allChainHeads' | 'allCheckpoints'>;
  readonly sha256: Sha256Hex;
  readonly signer: Pick<AuditSigner, 'verify'>;
};

/**
 * Checks the whole audit log: every entry's hash, every link, no gaps, every chain head, every checkpoint's
 * signature, and that every head a checkpoint recorded is still there with the same hash (which catches the
 * deletion of a whole chain). Streams entries; memory grows with the number of chains, not entries.
 */
export async function verifyAuditLog(
  deps: Deps,
  onProgress?: (entriesChecked: number) => void,
): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  const report = (problem: AuditProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };

  const checkpoints = await deps.store.allCheckpoints();
  const recorded = new Map<string, { seq: number; hash: string; checkpoint: number }>();
  let previousSignature = '';
  for (const checkpoint of checkpoints) {
    const { signature, keyId, ...signed } = checkpoint;
    if (
      signed.previousSignature !== previousSignature ||
      !deps.signer.verify(checkpointSigningInput(signed), signature, keyId)
    )
      report({
        kind: 'checkpoint_signature',
        chain: null,
        seq: null,
        entryId: null,
        message: `Checkpoint ${checkpoint.sequence} does not verify: its signature or its link to the previous checkpoint is wrong.`,
      });
    previousSignature = signature;
    for (const head of checkpoint.heads)
      recorded.set(head.chain, { seq: head.seq, hash: head.hash, checkpoint: checkpoint.sequence });
  }

  const heads = await deps.store.allChainHeads();
  const seenChains = new Set<string>();
  let entriesChecked = 0;
  let current: { chain: string; head: ChainHead; isBroken: boolean } | null = null;

  const finishChain = () => {
    if (!current) return;
    const { chain, head, isBroken } = current;
    const stored = heads.get(chain);
    if (!isBroken && (!stored || stored.seq !== head.seq || stored.hash !== head.hash))
      report({
        kind: 'head_mismatch',
        chain,
        seq: head.seq,
        entryId: null,
        message: `Chain ${chain}: the recorded head is #${stored?.seq ?? 'none'} but the last entry is #${head.seq}; entries were removed from its end.`,
      });
    const expected = recorded.get(chain);
    if (!isBroken && expected && expected.seq > head.seq)
      report({
        kind: 'checkpoint_entry_missing',
        chain,
        seq: expected.seq,
        entryId: null,
        message: `Chain ${chain}: entry #${expected.seq}, recorded in checkpoint ${expected.checkpoint}, is missing.`,
      });
  };

  const checkEntry = (entry: StoredAuditEntry) => {
    if (!current || current.chain !== entry.chain) {
      finishChain();
      seenChains.add(entry.chain);
      current = {
        chain: entry.chain,
        head: { chain: entry.chain, seq: 0, hash: GENESIS_HASH },
        isBroken: false,
      };
    }
    if (current.isBroken) return;
    const result = verifyChainSegment(current.head, [entry], deps.sha256);
    if (result.firstBreak) {
      current.isBroken = true;
      const { kind } = result.firstBreak;
      const seq = kind === 'gap' ? result.firstBreak.foundSeq : result.firstBreak.seq;
      const what =
        kind === 'gap'
          ? `entries #${result.firstBreak.expectedSeq}…#${result.firstBreak.foundSeq - 1} are missing`
          : kind === 'link_broken'
            ? 'it does not link to the entry before it'
            : 'its content does not match its hash (edited)';
      report({
        kind,
        chain: entry.chain,
        seq,
        entryId: entry.id,
        message: `Chain ${entry.chain}, entry #${seq} (id ${entry.id}): ${what}.`,
      });
      return;
    }
    current.head = result.head;
    const expected = recorded.get(entry.chain);
    if (expected && expected.seq === entry.seq && expected.hash !== entry.hash) {
      current.isBroken = true;
      report({
        kind: 'checkpoint_hash_mismatch',
        chain: entry.chain,
        seq: entry.seq,
        entryId: entry.id,
        message: `Chain ${entry.chain}, entry #${entry.seq} (id ${entry.id}) differs from checkpoint ${expected.checkpoint}: the chain was rewritten.`,
      });
    }
  };

  // The next page is read while this one is hashed: the database and the hashing overlap.
  let nextPage: Promise<StoredAuditEntry[]> | null = deps.store.auditEntriesInChainOrder(null, PAGE_SIZE);
  while (nextPage) {
    const page: StoredAuditEntry[] = await nextPage;
    const last = page.at(-1);
    nextPage =
      page.length === PAGE_SIZE && last
        ? deps.store.auditEntriesInChainOrder({ chain: last.chain, seq: last.seq }, PAGE_SIZE)
        : null;
    for (const entry of page) checkEntry(entry);
    entriesChecked += page.length;
    onProgress?.(entriesChecked);
  }
  finishChain();

  for (const chain of new Set([...heads.keys(), ...recorded.keys()])) {
    if (!seenChains.has(chain))
      report({
        kind: 'chain_missing',
        chain,
        seq: null,
        entryId: null,
        message: `Chain ${chain}: every entry is gone (head #${heads.get(chain)?.seq ?? recorded.get(chain)?.seq} was recorded).`,
      });
  }

  return {
    isIntact: problems.length === 0,
    entriesChecked,
    chainsChecked: seenChains.size,
    checkpointsChecked: checkpoints.length,
    firstBroken: problems[0] ?? null,
    problems,
  };
}
