import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const check = new URL('../scripts/check-boundaries.js', import.meta.url).pathname;
const run = promisify(execFile);

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'amend-boundaries-'));
  for (const [path, text] of Object.entries({ 'src/app/ok.ts': '', ...files })) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import-boundary check', () => {
  it('passes the repository itself', async () => {
    await expect(run(process.execPath, [check])).resolves.toBeDefined();
  });

  it.each([
    [
      'the core importing a store adapter',
      'src/core/bad.ts',
      "import { createStore } from '../store/store.ts';",
    ],
    ['the core doing I/O', 'src/core/bad.ts', "import { readFileSync } from 'node:fs';"],
    [
      'a use case importing the HTTP server',
      'src/app/bad.ts',
      "import { buildServer } from '../server/http-server.ts';",
    ],
  ])('fails on %s, naming the file and the fix', async (_, path, source) => {
    const root = tree({
      [path]: source,
      'src/core/fine.ts': "import { z } from 'zod';\nimport { ok } from './result.ts';",
    });
    const failure = await run(process.execPath, [check, root]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(path);
    expect(failure?.stderr).toContain('Fix:');
    expect(failure?.stderr).not.toContain('fine.ts');
  });
});
