import { uuidv7 } from 'uuidv7';
import type { Clock, IdSource } from '../app/ports.ts';

export const systemClock: Clock = { now: () => new Date() };

/** UUIDv7: time-ordered ids keep B-tree inserts local and make id order creation order (docs/adr/0003). */
export const uuidV7Ids: IdSource = { newId: () => uuidv7() };
