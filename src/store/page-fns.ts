import type { Page } from '../app/ports.ts';

/**
 * Turns `limit + 1` rows from a keyset query into a page: the extra row only says a next page exists; the
 * cursor is the sort key of the last item kept.
 */
export function pageOf<Row, Item, Cursor = string>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => Cursor | null,
) {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return {
    items: kept.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null,
  } satisfies Omit<Page<Item>, 'nextCursor'> & { nextCursor: Cursor | null };
}
