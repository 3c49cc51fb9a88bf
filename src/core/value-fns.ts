import canonicalize from 'canonicalize';

/**
 * The canonical JSON encoding (RFC 8785) of a value: the same bytes for equal values whatever the key order.
 * Used for equality of field values and for audit hashing.
 */
export function canonicalJson(value: unknown): string {
  return canonicalize(value === undefined ? null : value) ?? 'null';
}

/** Structural equality of two field values. */
export const isSameValue = (left: unknown, right: unknown): boolean =>
  canonicalJson(left) === canonicalJson(right);
