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
      rows: [
        { line: 10, values: { legal_name: 'Ana Example', email: 'ana@example.com' }, extraValues: 0 },
        { line: 11, values: { legal_name: 'Bad Email', email: 'not-an-email' }, extraValues: 0 },
        { line: 13, values: { legal_name: 'Ben Example', phone: '+61 412 345 678' }, extraValues: 0 },
        { line: 14, values: { legal_name: 'Cy Example', email: 'cy@example.com' }, extraValues: 1 },
      ],
    });
    expect(prepared.encoded.count).toBe(2);
    expect(prepared.rejected).toEqual([
      [expect.objectContaining({ line: 11, column: 'email', reason: 'EMAIL.SYNTAX' })],
      [expect.objectContaining({ line: 14, column: '(row)', reason: 'ROW.EXTRA_VALUES' })],
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
    await expect(
      workers.prepare({ rows: [{ line: 2, values: { legal_name: 'Ana Example' }, extraValues: 0 }] }),
    ).rejects.toThrow(/does not hold it/);
    await expect(
      workers.prepare({ rows: [{ line: 3, values: { legal_name: 'Ben Example' }, extraValues: 0 }] }),
    ).rejects.toThrow(/does not hold it/);
  });
});
