import { readdirSync, readFileSync } from 'node:fs';

// From the sources (src/store) or the bundle (dist/cli): both two folders below the package.
const MIGRATIONS_DIR = new URL('../../src/store/migrations/', import.meta.url);

/** The migrations' names (`NNNN-name`, the file without `.sql`), in the order they apply. */
export const migrationNames = (): string[] =>
  readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{4}-[a-z0-9-]+\.sql$/.test(file))
    .map((file) => file.replace(/\.sql$/, ''))
    .sort();

export const migrationScript = (name: string): string =>
  readFileSync(new URL(`${name}.sql`, MIGRATIONS_DIR), 'utf8');
