import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type ImportWorkers, startImportWorkers } from '../src/cli/import-workers.ts';

const key = () => randomBytes(32).toString('base64');
let workers: ImportWorkers | undefined;
afterEach(() => workers?.close());

describe('import worker threads', () => {
  it('validate, seal and encode a batch, keeping each rejected row with its file line', async () => {
    workers = startImportWorkers({ current: 'k1', keys: { k1: key() }, blindIndexKey: key() }, 2);
    const prepared = await workers.prepare({
      firstLine: 10,
      rows: [
        { legal_name: 'Ana Example', email: 'ana@example.com' },
        { legal_name: 'Bad Email', email: 'not-an-email' },
        { legal_name: 'Ben Example', phone: '+61 412 345 678' },
      ],
    });
    expect(prepared.encoded.count).toBe(2);
    expect(prepared.rejected).toEqual([
      [expect.objectContaining({ line: 11, column: 'email', reason: 'EMAIL.SYNTAX' })],
    ]);
    const customers = prepared.encoded.customers.trim().split('\n');
    expect(customers).toHaveLength(2);
    // Sealed: no personal value in clear, only the v1.<key> envelope.
    expect(customers.join('\n')).not.toContain('ana@example.com');
    expect(customers[0]!.split('\t')[2]).toMatch(/^v1\.k1\./);
    expect(prepared.encoded.auditEntries.trim().split('\n')).toHaveLength(2);
  });

  it('fail the batches of a thread that cannot start, rather than leaving the import waiting', async () => {
    workers = startImportWorkers({ current: 'missing', keys: { k1: key() }, blindIndexKey: key() }, 1);
    await expect(workers.prepare({ firstLine: 2, rows: [{ legal_name: 'Ana Example' }] })).rejects.toThrow(
      /does not hold it/,
    );
    await expect(workers.prepare({ firstLine: 3, rows: [{ legal_name: 'Ben Example' }] })).rejects.toThrow(
      /does not hold it/,
    );
  });
});
