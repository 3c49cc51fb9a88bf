/**
 * An answer as compared: case, accents' composition, spacing and punctuation do not count, so "St. Mary's" and
 * "st marys" match, but a different word does not.
 * @example normaliseAnswer("  St. Mary's  School ") // 'st marys school'
 */
export function normaliseAnswer(answer: string): string {
  return answer
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}
