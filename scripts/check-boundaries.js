#!/usr/bin/env node
// The import-boundary check (`npm run lint`). The functional core imports no adapter, no I/O and no clock;
// use cases import the core and their ports only. Fails naming the file, the import and the fix.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The tree to check: the repository, or another root given as the first argument (the check's own test).
const root = resolve(process.argv[2] ?? resolve(import.meta.dirname, '..'));
const rules = [
  {
    layer: 'src/core',
    // Pure libraries only: validation, phone numbers, canonical JSON.
    packages: new Set([
      'zod',
      'libphonenumber-js',
      'libphonenumber-js/max',
      'safe-stable-stringify',
      'card-validator',
      'ibantools',
    ]),
    layers: ['src/core'],
    fix: 'pass the value or function in as an argument, or move the code to src/app or an adapter',
  },
  {
    layer: 'src/app',
    packages: new Set(['zod']),
    layers: ['src/core', 'src/app'],
    fix: 'name what you need in src/app/ports.ts and let the composition root provide it',
  },
];

const filesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

// Tests beside the source may use test tools; production files may not import test fixtures.
const isTestFile = (file) => /\.test\.ts$|test-fixtures\.ts$/.test(file);

const importPattern =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const violations = [];
for (const rule of rules) {
  for (const file of filesUnder(join(root, rule.layer))) {
    if (isTestFile(file)) continue;
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2];
      let isAllowed;
      if (specifier.startsWith('.')) {
        const target = relative(root, resolve(dirname(file), specifier));
        isAllowed = rule.layers.some((layer) => target.startsWith(`${layer}/`));
      } else {
        isAllowed = rule.packages.has(specifier);
      }
      if (!isAllowed)
        violations.push(
          `${relative(root, file)}: imports "${specifier}"; ${rule.layer} may not. Fix: ${rule.fix}.`,
        );
    }
  }
}
if (violations.length > 0) {
  console.error(`Import boundaries broken:\n${violations.join('\n')}`);
  process.exit(1);
}
console.log(
  'Import boundaries hold: src/core imports no adapter or I/O; src/app imports only the core and its ports.',
);
