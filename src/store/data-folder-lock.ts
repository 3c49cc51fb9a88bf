import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PGlite admits one process to a data folder and takes no lock of its own: a second process opening the folder
 * (`amend report` beside a running `amend start`) replays the WAL and rewrites the control file under the
 * first, and the folder is lost. Like PostgreSQL's postmaster.pid, the folder's owner is written in a file that
 * another opener must find dead before it takes over.
 */
export const LOCK_FILE = 'amend.lock';
const UNREADABLE_STALE_MS = 2_000;

export interface FolderHolder {
  readonly pid: number;
  /** The holder's start, in clock ticks since boot (Linux); tells a live holder from a process reusing its id. */
  readonly startedAt: number | null;
  readonly command: string;
  readonly since: string;
}

/** The data folder is held by another live process. */
export class DataFolderInUse extends Error {
  constructor(
    readonly folder: string,
    readonly holder: FolderHolder | null,
  ) {
    super(
      `The embedded database in ${folder} is in use by ${
        holder ? `"${holder.command}" (process ${holder.pid}, since ${holder.since})` : 'another process'
      }. The embedded database admits one process: stop that one first, or use its API meanwhile; to run several ` +
        `processes at once, use PostgreSQL (DATABASE_URL). If no such process runs, delete ${join(folder, LOCK_FILE)}.`,
    );
  }
}

/** When process `pid` started (Linux: /proc/<pid>/stat, field 22), or null where that cannot be read. */
function startOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

function isAlive(holder: FolderHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const startedAt = startOf(holder.pid);
  return holder.startedAt === null || startedAt === null || startedAt === holder.startedAt;
}

function holderIn(text: string): FolderHolder | null {
  try {
    const parsed = JSON.parse(text) as FolderHolder;
    return Number.isInteger(parsed.pid) ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Takes the data folder for this process, or throws `DataFolderInUse`. A lock its holder left behind (killed,
 * crashed, the machine restarted) is taken over. Answers the release, which leaves alone a lock that is not
 * this process's.
 */
export function lockDataFolder(folder: string, command: string): () => void {
  const path = join(folder, LOCK_FILE);
  const mine = JSON.stringify({
    pid: process.pid,
    startedAt: startOf(process.pid),
    command,
    since: new Date().toISOString(),
  } satisfies FolderHolder);
  const release = () => {
    try {
      if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const holder = holderIn(text);
    if (holder && isAlive(holder)) throw new DataFolderInUse(folder, holder);
    // A lock being written by its creator reads empty for a moment: unreadable is stale only once it is old.
    if (!holder) {
      const written = statSync(path, { throwIfNoEntry: false });
      if (!written) continue;
      if (Date.now() - written.mtimeMs < UNREADABLE_STALE_MS) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
    }
    // Moved aside atomically; if another opener took the folder over between our read and the move, what was
    // moved is its lock, not the stale one: it goes back, and the next round finds that opener alive.
    const aside = `${path}.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    if (readFileSync(aside, 'utf8') !== text)
      try {
        linkSync(aside, path);
      } catch {
        // Another lock is already in place; the next round reads it.
      }
    unlinkSync(aside);
  }
  throw new DataFolderInUse(folder, null);
}
