#!/usr/bin/env node
// Adds package-lock entries for other platforms' optional binaries (e.g. @biomejs/cli-darwin-arm64) that
// the registry mirror of this workplace does not serve. Without them `npm ci` refuses the lock as out of
// sync; with them, npm skips them on this platform by their os/cpu, as it would with a complete lock.
// Run after `npm install` changes the lock: `node scripts/complete-lockfile.js`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const platformOf = (name) => {
  const os =
    [
      'android',
      'darwin',
      'freebsd',
      'linux',
      'openbsd',
      'netbsd',
      'sunos',
      'win32',
      'openharmony',
      'aix',
    ].find((o) => name.includes(o)) ?? (name.includes('windows') ? 'win32' : undefined);
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'riscv64', 'ppc64', 's390x', 'loong64', 'mips64el'].find((c) =>
    name.includes(c),
  );
  return {
    os: os ? [os] : undefined,
    cpu: cpu ? [cpu] : undefined,
    libc: name.includes('musl') ? ['musl'] : undefined,
  };
};
let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = location === '' ? '' : `${location}/`;
    const candidates = [`${base}node_modules/${name}`, `node_modules/${name}`];
    if (candidates.some((candidate) => lock.packages[candidate])) continue;
    const { os, cpu, libc } = platformOf(name);
    lock.packages[`node_modules/${name}`] = {
      version,
      dev: entry.dev,
      optional: true,
      ...(os && { os }),
      ...(cpu && { cpu }),
      ...(libc && { libc }),
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`Added ${added} lock entries for other platforms' optional packages.`);
