import { checkpointSigningInput } from '../core/audit-chain-fns.ts';
import type { AuditCheckpoint } from '../core/audit-types.ts';
import type { AuditSigner, Clock, Store } from './ports.ts';

const HEADS_PER_CHECKPOINT = 20_000;

type Deps = {
  readonly store: Pick<Store, 'transaction'>;
  readonly signer: Pick<AuditSigner, 'sign' | 'keyId'>;
  readonly clock: Clock;
};

/**
 * Signs the chain heads that moved since the last checkpoint. Checkpoints chain by signature, and every
 * head they name must still exist at verification: deleting a whole customer's chain is detected.
 * Answers the checkpoints written (none if nothing moved).
 */
export async function writeAuditCheckpoint(deps: Deps): Promise<AuditCheckpoint[]> {
  const written: AuditCheckpoint[] = [];
  for (;;) {
    const checkpoint = await deps.store.transaction(async (tx) => {
      const last = await tx.lockCheckpoints();
      const heads = await tx.movedChainHeads(HEADS_PER_CHECKPOINT);
      if (heads.length === 0) return null;
      const unsigned = {
        sequence: (last?.sequence ?? 0) + 1,
        createdAt: deps.clock.now().toISOString(),
        previousSignature: last?.signature ?? '',
        heads,
      };
      const signed: AuditCheckpoint = {
        ...unsigned,
        keyId: deps.signer.keyId,
        signature: deps.signer.sign(checkpointSigningInput(unsigned)),
      };
      await tx.insertCheckpoint(signed);
      return signed;
    });
    if (!checkpoint) return written;
    written.push(checkpoint);
    if (checkpoint.heads.length < HEADS_PER_CHECKPOINT) return written;
  }
}
