import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// A copy of the package, so building and touching sources here cannot disturb the suite's own bundle.
const copy = mkdtempSync(join(tmpdir(), 'amend-bundle-'));
const repository = new URL('..', import.meta.url).pathname;
for (const folder of ['bin', 'src', 'policy'])
  cpSync(join(repository, folder), join(copy, folder), { recursive: true });
cpSync(join(repository, 'package.json'), join(copy, 'package.json'));
symlinkSync(join(repository, 'node_modules'), join(copy, 'node_modules'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

interface Bundler {
  bundleIsCurrent(): boolean;
  buildBundle(): Promise<void>;
}

describe('the CLI bundle', () => {
  it('is built on first use, and again once a source it was built from changes', async () => {
    const bundler = (await import(pathToFileURL(join(copy, 'bin/bundle.js')).href)) as Bundler;
    expect(bundler.bundleIsCurrent()).toBe(false);
    expect(
      execFileSync(process.execPath, [join(copy, 'bin/amend.js'), '--help'], { encoding: 'utf8' }),
    ).toContain('Usage: amend');
    expect(bundler.bundleIsCurrent()).toBe(true);
    rmSync(join(copy, 'dist/cli/main.mjs'));
    expect(bundler.bundleIsCurrent()).toBe(false);
    await bundler.buildBundle();
    expect(bundler.bundleIsCurrent()).toBe(true);

    // An edit a second after the build.
    const { builtAt } = JSON.parse(readFileSync(join(copy, 'dist/sources.json'), 'utf8')) as {
      builtAt: number;
    };
    const edited = new Date(builtAt + 1000);
    utimesSync(join(copy, 'src/core/result.ts'), edited, edited);
    expect(bundler.bundleIsCurrent()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, builtAt + 1100 - Date.now()));
    // Builds racing (a test suite starting many processes) each leave a whole bundle.
    await Promise.all([bundler.buildBundle(), bundler.buildBundle()]);
    expect(bundler.bundleIsCurrent()).toBe(true);
    expect(
      execFileSync(process.execPath, [join(copy, 'bin/amend.js'), '--help'], { encoding: 'utf8' }),
    ).toContain('Usage: amend');
  });

  it('loads the HTTP server, the mailer and the holiday data only where they are used', () => {
    // What every command loads at start: the entry and the chunks it imports statically, transitively.
    const loaded = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(join(copy, 'dist/cli', file), 'utf8');
      for (const [, from] of text.matchAll(/^import\s*(?:[^;"]*?from\s*)?"([^"]+)"/gms))
        if (from!.startsWith('./')) visit(from!.slice(2));
        else packages.add(from!);
    };
    visit('main.mjs');
    expect(packages).toContain('kysely');
    for (const lazy of [
      'fastify',
      '@fastify/swagger',
      'prom-client',
      'nodemailer',
      'pdfkit',
      '@faker-js/faker',
      'date-holidays',
    ])
      expect(packages).not.toContain(lazy);
  });
});
