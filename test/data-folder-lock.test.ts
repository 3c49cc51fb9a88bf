import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataFolderInUse, LOCK_FILE, lockDataFolder } from '../src/store/data-folder-lock.ts';
import { openDatabase } from '../src/store/database.ts';
import {
  AMEND,
  amendProcess,
  processEnvironment,
  runFile,
  waitUntilHealthy,
} from './support/amend-processes.ts';
import { testEngine } from './support/test-database.ts';

const folder = () => mkdtempSync(join(tmpdir(), 'amend-lock-'));
const lockIn = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
/** Takes and releases the lock, answering what it wrote (this process's start time). */
function takenAndGiven(dir: string) {
  const release = lockDataFolder(dir, 'amend test');
  const written = lockIn(dir);
  release();
  return written;
}
/** The id of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

// The embedded engine's concern: run once, on its project.
describe.skipIf(testEngine() === 'postgres')('the embedded database folder lock', () => {
  it('admits one holder at a time, and the next once it is released', () => {
    const dir = folder();
    const release = lockDataFolder(dir, 'amend serve');
    expect(lockIn(dir)).toMatchObject({ pid: process.pid, command: 'amend serve' });
    expect(() => lockDataFolder(dir, 'amend report')).toThrow(DataFolderInUse);
    expect(() => lockDataFolder(dir, 'amend report')).toThrow(
      new RegExp(`in use by "amend serve" \\(process ${process.pid}, since .*\\). .*use PostgreSQL`),
    );
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDataFolder(dir, 'amend report')();
  });

  it('takes over a lock whose holder is gone: exited, or its process id now another process’s', () => {
    const dir = folder();
    const path = join(dir, LOCK_FILE);
    const stale = { pid: deadPid(), startedAt: null, command: 'amend start', since: '2026-01-01T00:00:00Z' };
    writeFileSync(path, JSON.stringify(stale));
    const release = lockDataFolder(dir, 'amend serve');
    expect(lockIn(dir)).toMatchObject({ pid: process.pid, command: 'amend serve' });
    release();

    // This process's id, but another start: the holder died and its id was given to this process since.
    const own = takenAndGiven(dir);
    const reused = { ...stale, pid: process.pid, startedAt: own.startedAt - 1 };
    writeFileSync(path, JSON.stringify(reused));
    lockDataFolder(dir, 'amend serve')();

    // Garbage left long ago (a crash while writing it) is stale too.
    writeFileSync(path, '{"pi');
    utimesSync(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    lockDataFolder(dir, 'amend serve')();
  });

  it('keeps a second process off a running server’s folder, and lets it in once the server is killed', async () => {
    const { env, base, systems } = await processEnvironment(folder(), null);
    const server = amendProcess(env, ['serve']);
    try {
      server.start();
      await waitUntilHealthy(base);
      const refused = await runFile(process.execPath, [AMEND, 'audit', 'verify'], { env }).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect(refused).toMatchObject({ code: 75 });
      expect((refused as { stderr: string }).stderr).toMatch(/in use by "amend serve" \(process \d+/);
      expect((refused as { stderr: string }).stderr).toContain('DATABASE.IN_USE');
      await server.kill9();
      const { stdout } = await runFile(process.execPath, [AMEND, 'audit', 'verify'], { env });
      expect(stdout).toContain('Audit log intact');
    } finally {
      await server.kill9();
      await Promise.all(systems.map((system) => system.close()));
    }
  });

  it('is taken by opening the embedded database, and given back by closing it', async () => {
    const dir = folder();
    const database = await openDatabase({ dataDir: dir });
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(DataFolderInUse);
    await database.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await (await openDatabase({ dataDir: dir })).close();
  });
});
