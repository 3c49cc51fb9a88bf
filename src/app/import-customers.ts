import type { AuditEntryDraft } from '../core/audit-types.ts';
import type { Actor } from '../core/change-request-types.ts';
import { newCustomer } from '../core/customer-fns.ts';
import type { Customer } from '../core/customer-types.ts';
import type { FieldProblem } from '../core/field-validation-fns.ts';
import { fail, ok, type Result } from '../core/result.ts';
import type { Clock, EncodedNewCustomers, IdSource } from './ports.ts';
import { customerCreatedEntries } from './register-customers.ts';

/** One row of a customer import file. */
export interface ImportRow {
  /** 1-based line in the file where the row starts, counting the header as line 1. */
  readonly line: number;
  /** The row's values by column name. */
  readonly values: Readonly<Record<string, string | undefined>>;
  /**
   * Values past the header's last column, or under a column with no name. Their columns are shifted (most often
   * a comma in an unquoted value), so the row is refused whole rather than imported with values under the wrong
   * columns.
   */
  readonly extraValues: number;
}

export interface ImportRowError {
  /** 1-based line in the file where the row starts, counting the header as line 1. */
  readonly line: number;
  /** The column at fault, or "(row)" for the row as a whole. */
  readonly column: string;
  readonly reason: string;
  readonly message: string;
}

export interface ImportReport {
  readonly rowsRead: number;
  readonly imported: number;
  /** Rows rejected (a row with several problems counts once). */
  readonly rejected: number;
}

export interface ImportListeners {
  readonly onProgress?: (report: ImportReport) => void;
  /**
   * A rejected row's problems, as it is read: written out as they come, so a file of a million bad rows is not
   * held in memory. Awaited, so a slow writer holds the import back rather than letting problems pile up.
   */
  readonly onRejected?: (problems: readonly ImportRowError[]) => void | Promise<void>;
}

export const IMPORT_COLUMNS = [
  'legal_name',
  'preferred_name',
  'email',
  'phone',
  'address_line1',
  'address_line2',
  'locality',
  'region',
  'postcode',
  'country',
  'date_of_birth',
  'consent_email',
  'consent_sms',
  'consent_post',
  'consent_phone',
] as const;

/**
 * The columns of an import file's header row, checked before any row is read: a column Amend does not import
 * (a typing slip, "emial") would otherwise drop its values from every row without a word. Names are matched
 * case-insensitively, blanks around them ignored.
 */
export function importColumns(
  header: readonly string[],
  options: { readonly isIgnoringUnknown: boolean },
): Result<string[]> {
  const names = header.map((name) => name.trim().toLowerCase());
  const known: readonly string[] = IMPORT_COLUMNS;
  const twice = [...new Set(names.filter((name, index) => name !== '' && names.indexOf(name) !== index))];
  if (twice.length > 0)
    return fail(
      'IMPORT.FILE_INVALID',
      `The header row names ${twice.join(', ')} more than once; each column may appear once.`,
    );
  if (!names.includes('legal_name'))
    return fail(
      'IMPORT.FILE_INVALID',
      `The header row has no legal_name column. It must name: ${IMPORT_COLUMNS.join(', ')}.`,
    );
  // A column with no name (a spreadsheet's trailing comma) is no column: a value under it is an extra value.
  const unknown = names.filter((name) => name !== '' && !known.includes(name));
  if (unknown.length > 0 && !options.isIgnoringUnknown)
    return fail(
      'IMPORT.FILE_INVALID',
      `The header row names columns Amend does not import: ${unknown.join(', ')}. Rename them to one of ${IMPORT_COLUMNS.join(', ')}, or pass --ignore-unknown-columns to leave their values out.`,
    );
  return ok(names);
}

const BATCH_SIZE = 1000;
// Batches handed to the preparing threads and not yet written: enough that no thread waits for work while the
// main thread reads and writes. Each holds a thousand rows, so memory stays flat whatever the file's size.
const BATCHES_PREPARING = 8;
// Batches committing at once: the database writes two on two connections while the next are prepared. More
// only queue for the same cores.
const BATCHES_COMMITTING = 2;
const blank = (value: string | undefined) => value === undefined || value.trim() === '';

function consent(value: string | undefined): boolean | undefined {
  if (blank(value)) return undefined;
  return ['yes', 'y', 'true', '1'].includes(value!.trim().toLowerCase());
}

/** Maps a flat CSV row onto the customer fields, keeping the column each value came from for error reports. */
function inputFromRow(row: ImportRow['values']) {
  const hasAddress = !['address_line1', 'locality', 'postcode', 'country'].every((column) =>
    blank(row[column]),
  );
  const preferences = Object.fromEntries(
    (['email', 'sms', 'post', 'phone'] as const).flatMap((channel) => {
      const value = consent(row[`consent_${channel}`]);
      return value === undefined ? [] : [[channel, value]];
    }),
  );
  return {
    legalName: row.legal_name ?? '',
    preferredName: row.preferred_name,
    email: row.email,
    phone: row.phone,
    dateOfBirth: row.date_of_birth,
    postalAddress: hasAddress
      ? {
          lines: [row.address_line1 ?? '', row.address_line2 ?? ''].filter((line) => line.trim() !== ''),
          locality: row.locality ?? '',
          region: blank(row.region) ? null : row.region,
          postcode: row.postcode ?? '',
          country: row.country ?? '',
        }
      : undefined,
    communicationPreferences: Object.keys(preferences).length > 0 ? preferences : undefined,
  };
}

const COLUMN_OF_PATH: Readonly<Record<string, string>> = {
  legalName: 'legal_name',
  preferredName: 'preferred_name',
  email: 'email',
  phone: 'phone',
  dateOfBirth: 'date_of_birth',
  'postalAddress.lines': 'address_line1',
  'postalAddress.locality': 'locality',
  'postalAddress.region': 'region',
  'postalAddress.postcode': 'postcode',
  'postalAddress.country': 'country',
  postalAddress: 'address_line1',
  communicationPreferences: 'consent_email',
};

/** A batch of rows as read. */
export interface ImportBatch {
  readonly rows: readonly ImportRow[];
}

/** A batch validated: its valid rows sealed, hashed and encoded for the store, its invalid rows' problems. */
export interface PreparedImportBatch {
  readonly encoded: EncodedNewCustomers;
  /** One list of problems per rejected row, in file order. */
  readonly rejected: readonly (readonly ImportRowError[])[];
}

/** Prepares batches, elsewhere than the main thread in the CLI (worker threads), answering in any order. */
export type PrepareImportBatch = (batch: ImportBatch) => Promise<PreparedImportBatch>;

const IMPORT_ACTOR: Actor = { kind: 'system', id: 'import', role: null };

function problemsOf(line: number, problems: readonly FieldProblem[]): ImportRowError[] {
  return problems.map((problem) => {
    const path = problem.path.replace(/\.\d+$/, '');
    return {
      line,
      column: COLUMN_OF_PATH[path] ?? COLUMN_OF_PATH[path.split('.')[0]!] ?? path,
      reason: problem.reason,
      message: problem.message,
    };
  });
}

/**
 * Validates each row like a change request's values and encodes the valid ones with the audit entries opening
 * their chains. No I/O: the CPU-heavy part of an import (phone numbers, sealing, hashing), so it runs on worker
 * threads while the main thread reads the file and writes earlier batches.
 */
export function prepareImportBatch(
  batch: ImportBatch,
  deps: {
    readonly clock: Clock;
    readonly ids: IdSource;
    readonly encode: (
      customers: readonly Customer[],
      openingEntries: readonly AuditEntryDraft[],
    ) => EncodedNewCustomers;
  },
): PreparedImportBatch {
  const customers: Customer[] = [];
  const rejected: ImportRowError[][] = [];
  for (const row of batch.rows) {
    if (row.extraValues > 0) {
      rejected.push([
        {
          line: row.line,
          column: '(row)',
          reason: 'ROW.EXTRA_VALUES',
          message: `This row has ${row.extraValues} value${row.extraValues === 1 ? '' : 's'} under no named column; put double quotes around a value that holds a comma.`,
        },
      ]);
      continue;
    }
    const built = newCustomer(inputFromRow(row.values), {
      id: deps.ids.newId(),
      now: deps.clock.now().toISOString(),
      source: 'import',
    });
    if (built.ok) customers.push(built.value);
    else rejected.push(problemsOf(row.line, built.error));
  }
  return {
    encoded: deps.encode(customers, customerCreatedEntries(customers, IMPORT_ACTOR, 'import')),
    rejected,
  };
}

/**
 * An import that stopped part-way (the file turned unreadable, the database went away, a worker died): `report`
 * counts what was kept, exactly, as every batch in flight had settled. Each batch was kept whole, customers
 * with their audit entries, or not at all.
 */
export class ImportInterrupted extends Error {
  constructor(
    readonly report: ImportReport,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * Imports customers row by row: every value validated like a change request's, valid rows kept (in batches,
 * each batch one transaction with its audit entries), each invalid row reported with its line, column and fix,
 * in file order. Fails with `ImportInterrupted`.
 */
export async function importCustomers(
  deps: {
    readonly prepare: PrepareImportBatch;
    /** Writes one prepared batch in one transaction: customers, their audit entries, or none of them. */
    readonly write: (batch: EncodedNewCustomers) => Promise<void>;
  },
  rows: AsyncIterable<ImportRow>,
  listeners: ImportListeners = {},
): Promise<ImportReport> {
  let rowsRead = 0;
  let imported = 0;
  let rejected = 0;
  let read: ImportRow[] = [];
  // In file order, so problems are reported in file order whichever thread finishes first.
  const preparing: Promise<PreparedImportBatch>[] = [];
  const committing = new Set<Promise<void>>();
  let failure: unknown;
  const writeNext = async () => {
    const prepared = await preparing.shift()!;
    for (const problems of prepared.rejected) {
      rejected += 1;
      await listeners.onRejected?.(problems);
    }
    const { encoded } = prepared;
    if (encoded.count > 0) {
      const written = deps
        .write(encoded)
        .then(
          () => {
            imported += encoded.count;
          },
          (error: unknown) => {
            failure ??= error;
          },
        )
        .finally(() => committing.delete(written));
      committing.add(written);
      while (committing.size >= BATCHES_COMMITTING) await Promise.race(committing);
    }
    if (failure !== undefined) throw failure;
    listeners.onProgress?.({ rowsRead, imported, rejected });
  };
  const handOver = async () => {
    if (read.length === 0) return;
    const prepared = deps.prepare({ rows: read });
    prepared.catch(() => {}); // awaited in turn by writeNext; until then its failure is not unhandled
    preparing.push(prepared);
    read = [];
    while (preparing.length >= BATCHES_PREPARING) await writeNext();
  };
  try {
    for await (const row of rows) {
      rowsRead += 1;
      read.push(row);
      if (read.length >= BATCH_SIZE) await handOver();
    }
    await handOver();
    while (preparing.length > 0) await writeNext();
    await Promise.all(committing);
    if (failure !== undefined) throw failure;
  } catch (error) {
    await Promise.allSettled(committing);
    throw new ImportInterrupted({ rowsRead, imported, rejected }, failure ?? error);
  }
  const report = { rowsRead, imported, rejected };
  listeners.onProgress?.(report);
  return report;
}
