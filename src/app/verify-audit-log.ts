import { checkpointSigningInput } from '../core/audit-chain-fns.ts';
import type { AuditFault } from '../core/audit-types.ts';
import { groupedBy } from '../core/value-fns.ts';
import type { AuditSigner, Store } from './ports.ts';

export type AuditProblemKind =
  | 'hash_mismatch'
  | 'link_broken'
  | 'gap'
  | 'head_mismatch'
  | 'chain_missing'
  | 'checkpoint_signature'
  | 'checkpoint_entry_missing'
  | 'checkpoint_hash_mismatch'
  | 'safeguard_missing';

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

const MAX_PROBLEMS = 100;

type Deps = {
  readonly store: Pick<Store, 'scanAuditLog'>;
  readonly signer: Pick<AuditSigner, 'verify'>;
};

const ENTRY_BREAKS: ReadonlySet<AuditFault['kind']> = new Set([
  'hash_mismatch',
  'link_broken',
  'gap',
  'checkpoint_hash_mismatch',
]);

function problemFrom(fault: AuditFault): AuditProblem {
  const { kind, chain, seq, entryId, expectedSeq, checkpoint } = fault;
  const at = `Chain ${chain}, entry #${seq} (id ${entryId})`;
  const message = {
    hash_mismatch: `${at}: its content does not match its hash (edited).`,
    link_broken: `${at}: it does not link to the entry before it.`,
    gap: `${at}: entries #${expectedSeq}…#${(seq ?? 0) - 1} are missing.`,
    checkpoint_hash_mismatch: `${at} differs from checkpoint ${checkpoint}: the chain was rewritten.`,
    head_mismatch: `Chain ${chain}: the recorded head is #${expectedSeq ?? 'none'} but the last entry is #${seq}; entries were removed from its end.`,
    checkpoint_entry_missing: `Chain ${chain}: entry #${seq}, recorded in checkpoint ${checkpoint}, is missing.`,
    chain_missing: `Chain ${chain}: every entry is gone (head #${expectedSeq} was recorded).`,
  }[kind];
  return { kind, chain, seq: kind === 'chain_missing' ? null : seq, entryId, message };
}

/**
 * A chain's problems as a reader needs them: its first broken entry, since what follows it cannot be trusted,
 * or else what is wrong with the chain as a whole (its end, a checkpointed entry gone, the whole chain gone).
 */
function chainProblems(faults: readonly AuditFault[]): AuditProblem[] {
  const gone = faults.find((fault) => fault.kind === 'chain_missing');
  if (gone) return [problemFrom(gone)];
  const firstBreak = faults.find((fault) => ENTRY_BREAKS.has(fault.kind));
  return firstBreak ? [problemFrom(firstBreak)] : faults.map(problemFrom);
}

/**
 * Checks the whole audit log: every entry's hash over its stored text, every link, no gaps, every chain head,
 * every checkpoint's signature, and that every entry a checkpoint recorded is still there with the same hash
 * (which catches the rewriting or deletion of a whole chain). The database does the per-entry work in one
 * snapshot; Node checks the signatures and words the problems, so memory does not grow with the log.
 */
export async function verifyAuditLog(deps: Deps): Promise<AuditVerification> {
  const scan = await deps.store.scanAuditLog(MAX_PROBLEMS);
  const problems: AuditProblem[] = [];

  let previousSignature = '';
  for (const checkpoint of scan.checkpoints) {
    const { signature, keyId, ...signed } = checkpoint;
    if (
      signed.previousSignature !== previousSignature ||
      !deps.signer.verify(checkpointSigningInput(signed), signature, keyId)
    )
      problems.push({
        kind: 'checkpoint_signature',
        chain: null,
        seq: null,
        entryId: null,
        message: `Checkpoint ${checkpoint.sequence} does not verify: its signature or its link to the previous checkpoint is wrong.`,
      });
    previousSignature = signature;
  }
  if (!scan.isSafeguarded)
    problems.push({
      kind: 'safeguard_missing',
      chain: null,
      seq: null,
      entryId: null,
      message:
        'The constraint that binds each entry to the text its hash covers (audit_entry_hashed_json_matches) is missing, altered or not validated: entries may have been edited. Run `amend migrate`; if it still fails, the table was tampered with.',
    });

  for (const faults of groupedBy(scan.faults, (fault) => fault.chain).values())
    problems.push(...chainProblems(faults));
  problems.sort((a, b) => Number(a.kind === 'chain_missing') - Number(b.kind === 'chain_missing'));

  // Heads whose chain has no entry (from the walk, not from a checkpoint), and chains with entries but no head.
  const missingChains = scan.faults.filter((f) => f.kind === 'chain_missing' && f.checkpoint === null).length;
  const headless = scan.faults.filter(
    (fault) => fault.kind === 'head_mismatch' && fault.expectedSeq === null,
  ).length;
  return {
    isIntact: problems.length === 0,
    entriesChecked: scan.entries,
    chainsChecked: scan.heads - missingChains + headless,
    checkpointsChecked: scan.checkpoints.length,
    firstBroken: problems[0] ?? null,
    problems: problems.slice(0, MAX_PROBLEMS),
  };
}
