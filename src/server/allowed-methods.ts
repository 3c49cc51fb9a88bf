import FindMyWay, { type HTTPMethod } from 'find-my-way';

/**
 * Which methods a path answers, for a request that matched no route: a path that exists under other methods is a
 * 405 with `Allow` (RFC 9110), not a 404 that tells the caller the path is wrong. A second router of Fastify's own
 * kind, fed by its onRoute hook, so the two match paths alike (Fastify does not expose its router).
 */
export function createAllowedMethods() {
  const router = FindMyWay();
  const methods = new Set<HTTPMethod>();
  return {
    add(method: string, url: string): void {
      const each = method as HTTPMethod;
      if (router.findRoute(each, url)) return;
      router.on(each, url, () => {});
      methods.add(each);
    },
    /** The methods `path` (no query) answers, sorted; OPTIONS among them whenever any is. */
    at(path: string): string[] {
      const found = [...methods].filter((method) => router.find(method, path) !== null);
      if (found.includes('GET') && !found.includes('HEAD')) found.push('HEAD');
      return found.length === 0 ? [] : [...found, 'OPTIONS'].sort();
    },
  };
}
