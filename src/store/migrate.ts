import { sql } from 'kysely';
import { backfillAuditHashedJson } from './audit-repo.ts';
import type { AmendDatabase } from './database.ts';
import { migrationNames, migrationScript } from './migration-files.ts';

export interface MigrationReport {
  readonly applied: string[];
  readonly alreadyApplied: number;
  /** Audit entries written before migration 0016 that were given the text their hash covers. */
  readonly auditTextsFilled: number;
}

/**
 * Applies pending migrations (`migrations/NNNN-name.sql`, in name order), each in its own transaction,
 * under a lock so several servers starting at once migrate exactly once.
 */
export async function migrate(database: AmendDatabase): Promise<MigrationReport> {
  return database.withMigrationLock(async () => {
    await database.runScript(
      'CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await sql<{ name: string }>`SELECT name FROM schema_migration`.execute(database.db);
    const doneNames = new Set(done.rows.map((row) => row.name));
    const applied: string[] = [];
    for (const name of migrationNames()) {
      if (doneNames.has(name)) continue;
      await database.runScript(
        `BEGIN;\n${migrationScript(name)}\nINSERT INTO schema_migration (name) VALUES ('${name}');\nCOMMIT;`,
      );
      applied.push(name);
    }
    // Data steps that need Node (the audit text is canonical JSON as Node writes it); each is a no-op once done.
    const auditTextsFilled = await backfillAuditHashedJson(database.db);
    return { applied, alreadyApplied: doneNames.size, auditTextsFilled };
  });
}
