#!/usr/bin/env node
// No build step between `npm ci` and `npm start`: the bundle is built on first use (see bundle.js).
import { buildBundle, bundleEntry, bundleIsCurrent } from './bundle.js';

let entry = bundleEntry;
if (!bundleIsCurrent()) {
  try {
    await buildBundle();
  } catch (error) {
    // A package folder this user cannot write (an installed copy): run the sources through tsx instead.
    if (!['EACCES', 'EPERM', 'EROFS'].includes(error.code)) throw error;
    (await import('tsx/esm/api')).register();
    entry = new URL('../src/cli/main.ts', import.meta.url);
  }
}
await import(entry.href);
