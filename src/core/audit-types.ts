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
