import type { Actor } from './change-request-types.ts';

/** An audit entry before it is chained: what happened, to whom, by whom, why and under which authorisation. */
export interface AuditEntryDraft {
  /** The chain the entry belongs to: one chain per customer, so writers to different customers never wait on each other. */
  readonly chain: string;
  readonly occurredAt: string;
  readonly actor: Actor;
  /** e.g. `change_request.applied`, `customer.imported`. */
  readonly action: string;
  readonly changeRequestId: string | null;
  /** Field changes (old → new, sensitive values masked), reason, authorisation, evidence. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** A chained audit entry as stored. `hash` = SHA-256 over the canonical encoding of everything else. */
export interface AuditEntry extends AuditEntryDraft {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** An entry with the exact text its hash covers, as written: verification hashes that stored text. */
export interface HashedAuditEntry extends AuditEntry {
  readonly hashedJson: string;
}

/** The latest entry of one chain, as recorded in a checkpoint. */
export interface ChainHead {
  readonly chain: string;
  readonly seq: number;
  readonly hash: string;
}

/** A signed statement of the chain heads that moved since the previous checkpoint. */
export interface AuditCheckpoint {
  readonly sequence: number;
  readonly createdAt: string;
  readonly previousSignature: string;
  readonly heads: readonly ChainHead[];
  readonly keyId: string;
  readonly signature: string;
}

/** Hashes bytes given as UTF-8 text and answers lowercase hex. Passed in: the core does no I/O or crypto. */
export type Sha256Hex = (text: string) => string;

/** Something the audit log's own tables contradict, found by one pass of the database over one snapshot. */
export interface AuditFault {
  readonly kind:
    | 'hash_mismatch'
    | 'link_broken'
    | 'gap'
    | 'head_mismatch'
    | 'chain_missing'
    | 'checkpoint_entry_missing'
    | 'checkpoint_hash_mismatch';
  readonly chain: string;
  /** The entry at fault (for a gap, the first entry after it); for chain-wide faults, the chain's last entry. */
  readonly seq: number | null;
  readonly entryId: number | null;
  /** gap: the seq that should have come next; head_mismatch and chain_missing: the recorded head's seq. */
  readonly expectedSeq: number | null;
  /** Checkpoint faults: the checkpoint that recorded the entry. */
  readonly checkpoint: number | null;
}

/** The audit log as the database sees it in one snapshot: what verification checks in Node and what it found. */
export interface AuditLogScan {
  readonly checkpoints: AuditCheckpoint[];
  readonly entries: number;
  readonly heads: number;
  /** The constraint that binds each entry's columns to its hashed text is in place and holds for every entry. */
  readonly isSafeguarded: boolean;
  /** In (chain, seq) order, at most the limit asked for. */
  readonly faults: AuditFault[];
}
