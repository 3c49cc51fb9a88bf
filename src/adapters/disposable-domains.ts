import { createRequire } from 'node:module';

let domains: Set<string> | null = null;

/** Throwaway-address providers, from the `disposable-email-domains` list (loaded once, on first use). */
export function isDisposableDomain(domain: string): boolean {
  domains ??= new Set(createRequire(import.meta.url)('disposable-email-domains') as string[]);
  return domains.has(domain.toLowerCase());
}
