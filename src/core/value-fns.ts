import { configure } from 'safe-stable-stringify';

// RFC 8785 for JSON values: keys sorted by UTF-16 code units, strings and numbers as ECMAScript writes them.
// safe-stable-stringify (pino's) writes exactly that, 2.6× faster than `canonicalize` on an audit entry; its
// strict mode refuses what JSON cannot hold (NaN, Infinity, functions, cycles). The property test holds it to
// `canonicalize`, the reference implementation, byte for byte.
const stringifyCanonically = configure({
  deterministic: true,
  strict: true,
  bigint: false,
  circularValue: Error,
});

/**
 * The canonical JSON encoding (RFC 8785) of a value: the same bytes for equal values whatever the key order.
 * Used for equality of field values and for audit hashing.
 */
export function canonicalJson(value: unknown): string {
  return stringifyCanonically(value === undefined ? null : value) ?? 'null';
}

/** Structural equality of two field values. */
export const isSameValue = (left: unknown, right: unknown): boolean =>
  canonicalJson(left) === canonicalJson(right);

/** The items grouped by a key, each group in the items' order (Node 20 has no `Map.groupBy`). */
export function groupedBy<Item>(items: Iterable<Item>, keyOf: (item: Item) => string): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
