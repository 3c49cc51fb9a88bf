import { newCustomer } from '../core/customer-fns.ts';
import type { Customer } from '../core/customer-types.ts';
import type { Clock, IdSource, Store } from './ports.ts';
import { registerCustomers } from './register-customers.ts';

/** One row of a customer import file, by column name. */
export type ImportRow = Readonly<Record<string, string | undefined>>;

export interface ImportRowError {
  /** 1-based line in the file, counting the header as line 1. */
  readonly line: number;
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

const BATCH_SIZE = 1000;
const PROGRESS_EVERY_ROWS = 1000;
// Batches in flight at once: the next rows are validated and sealed while earlier batches commit, and the
// database writes two batches on two connections. More only queue for the same cores.
const BATCHES_IN_FLIGHT = 2;
const blank = (value: string | undefined) => value === undefined || value.trim() === '';

function consent(value: string | undefined): boolean | undefined {
  if (blank(value)) return undefined;
  return ['yes', 'y', 'true', '1'].includes(value!.trim().toLowerCase());
}

/** Maps a flat CSV row onto the customer fields, keeping the column each value came from for error reports. */
function inputFromRow(row: ImportRow) {
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

type Deps = { readonly store: Pick<Store, 'transaction'>; readonly clock: Clock; readonly ids: IdSource };

/**
 * Imports customers row by row: every value validated like a change request's, valid rows kept (in batches,
 * each batch one transaction with its audit entries), each invalid row reported with its line, column and fix.
 */
export async function importCustomers(
  deps: Deps,
  rows: AsyncIterable<ImportRow>,
  listeners: ImportListeners = {},
): Promise<ImportReport> {
  let batch: Customer[] = [];
  let rowsRead = 0;
  let imported = 0;
  let rejected = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const flush = async () => {
    if (batch.length === 0) return;
    const customers = batch;
    batch = [];
    const committing = deps.store
      .transaction((tx) =>
        registerCustomers(tx, customers, { kind: 'system', id: 'import', role: null }, 'import'),
      )
      .then(
        () => {
          imported += customers.length;
        },
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => inFlight.delete(committing));
    inFlight.add(committing);
    while (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
  };
  const settle = async () => {
    await flush();
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
  };
  for await (const row of rows) {
    rowsRead += 1;
    const line = rowsRead + 1;
    const built = newCustomer(inputFromRow(row), {
      id: deps.ids.newId(),
      now: deps.clock.now().toISOString(),
      source: 'import',
    });
    if (built.ok) {
      batch.push(built.value);
      if (batch.length >= BATCH_SIZE) await flush();
    } else {
      rejected += 1;
      await listeners.onRejected?.(
        built.error.map((problem) => {
          const path = problem.path.replace(/\.\d+$/, '');
          return {
            line,
            column: COLUMN_OF_PATH[path] ?? COLUMN_OF_PATH[path.split('.')[0]!] ?? path,
            reason: problem.reason,
            message: problem.message,
          };
        }),
      );
    }
    if (rowsRead % PROGRESS_EVERY_ROWS === 0) listeners.onProgress?.({ rowsRead, imported, rejected });
  }
  await settle();
  const report = { rowsRead, imported, rejected };
  listeners.onProgress?.(report);
  return report;
}
