import { once } from 'node:events';
import {
  accessSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Presets, SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import { CsvError, parse } from 'csv-parse';
import { stringify as csvStream } from 'csv-stringify';
import { stringify } from 'csv-stringify/sync';
import { apiKeyIssuer } from '../adapters/api-keys.ts';
import {
  buildConnectedSystems,
  loadConnectedSystemsFile,
} from '../adapters/connectors/connected-systems-config.ts';
import { addDataKey, loadOrCreateDataKeys } from '../adapters/field-cipher.ts';
import { buildMonthlyReport } from '../app/build-monthly-report.ts';
import { replayDeadLetter, retryDeadLetter } from '../app/handle-dead-letter.ts';
import {
  IMPORT_COLUMNS,
  ImportInterrupted,
  type ImportRow,
  type ImportRowError,
  importColumns,
  importCustomers,
} from '../app/import-customers.ts';
import type { ConnectedSystem, EncodedNewCustomers, SealedRecords } from '../app/ports.ts';
import { reconcileConnectedSystems } from '../app/reconcile-connected-systems.ts';
import { reviewProcedureCompleteness } from '../app/review-procedure-completeness.ts';
import { resealAll, SEALED_RECORDS } from '../app/rotate-data-keys.ts';
import { verifyAuditLog } from '../app/verify-audit-log.ts';
import { writeAuditCheckpoint } from '../app/write-audit-checkpoint.ts';
import { ERROR_CATALOGUE } from '../core/error-catalogue.ts';
import { monthlyReportRows } from '../core/monthly-report-fns.ts';
import type { DomainError, Result } from '../core/result.ts';
import type { DemoCredentials } from '../demo/seed-demo-data.ts';
import { writeEncodedNewCustomers } from '../store/customer-repo.ts';
import { migrate } from '../store/migrate.ts';
import { keepTablesTidy } from '../store/upkeep.ts';
import { loadConfig } from './config.ts';
import { startImportWorkers } from './import-workers.ts';
import { databaseFault, openRuntime, type Runtime } from './runtime.ts';

// The demo (faker), the sample systems and the PDF renderer (pdfkit) are imported where used: a server
// process that never needs them does not carry them in memory. So are the HTTP server and the worker (fastify
// and its plugins, prom-client), which a report, an import or a review never runs.
const serveProcess = () => import('./serve-process.ts');
const DEMO_CUSTOMER_COUNT = 1000;

/** Prints a domain error the way a person can act on it, and exits with the catalogue's code. */
function exitWith(error: DomainError): never {
  process.stderr.write(`amend: ${error.message}\n`);
  const errors = error.errors as { path: string; message: string }[] | undefined;
  if (errors && !error.message.includes('\n'))
    for (const item of errors) process.stderr.write(`  ${item.path}: ${item.message}\n`);
  process.stderr.write(`  (${error.code})\n`);
  process.exit(ERROR_CATALOGUE[error.code].exitCode);
}

const unwrap = <T>(result: Result<T>): T => (result.ok ? result.value : exitWith(result.error));

/**
 * Refuses, before any work, an output file that could not be written at the end: a report built for minutes, or
 * an import's rejected rows, would otherwise be lost to a typing slip in a folder name.
 */
function refuseUnwritable(path: string, option: string): void {
  const folder = dirname(resolve(path));
  const refuse = (why: string) => exitWith({ code: 'REQUEST.INVALID', message: `${option} ${path}: ${why}` });
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory())
    refuse(`the folder ${folder} does not exist; create it, or give a path in another folder.`);
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing?.isDirectory()) refuse('it is a folder; give a file name.');
  try {
    accessSync(existing ? path : folder, constants.W_OK);
  } catch {
    refuse(
      `${existing ? 'the file' : `the folder ${folder}`} is not writable by this user; give another path.`,
    );
  }
}

const LINE_BREAK = /[\r\n]/;
const LINE_BREAKS = /\r\n|\r|\n/g;

/**
 * A CSV file's records without its blank lines, each with the line it starts on as a reader counts them (a
 * quoted value may hold line breaks, so a record may span lines).
 */
async function* withLines(
  records: AsyncIterable<string[]>,
): AsyncGenerator<{ record: string[]; line: number }> {
  let next = 1;
  for await (const record of records) {
    const line = next;
    next += 1;
    for (const value of record) if (LINE_BREAK.test(value)) next += value.match(LINE_BREAKS)!.length;
    if (record.length === 1 && record[0] === '') continue;
    yield { record, line };
  }
}

/**
 * What is wrong with a CSV file, and where: csv-parse's own message quotes the offending value, which may be
 * personal data or binary noise, so only its first clause is kept.
 */
const csvFault = (error: CsvError): string =>
  `${error.message.split(':')[0]} at line ${(error as CsvError & { lines?: number }).lines ?? '?'}`;

async function withRuntime<T>(
  options: Parameters<typeof openRuntime>[1],
  work: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const config = unwrap(loadConfig());
  const runtime = unwrap(await openRuntime(config, options));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

function connectedSystemsFor(runtime: Runtime): Map<string, ConnectedSystem> {
  const file = runtime.config.connectedSystemsFile;
  if (file) return unwrap(loadConnectedSystemsFile(file, runtime.policy, runtime));
  // No file: only acceptable when the policy names no connected system at all.
  return unwrap(
    buildConnectedSystems(
      { systems: [] },
      runtime.policy,
      'the connected systems (set AMEND_CONNECTED_SYSTEMS_FILE)',
      runtime,
    ),
  );
}

function printCredentials(credentials: DemoCredentials): string {
  const lines = [
    'Demo staff sign-in (POST /api/v1/staff-sessions): email, password and the TOTP code of the secret',
    '(add the secret to an authenticator app, or: oathtool --totp -b <secret>).',
    ...credentials.staff.map(
      (member) =>
        `  ${member.role.padEnd(15)} ${member.email.padEnd(28)} password ${member.password}  TOTP secret ${member.totpSecret}`,
    ),
    '',
    'API keys (scripts and tools; send as "Authorization: Bearer <key>"):',
    ...credentials.staff.map(
      (member) => `  ${member.role.padEnd(15)} ${member.displayName.padEnd(22)} ${member.apiKey}`,
    ),
    `  ${'integration'.padEnd(15)} ${credentials.integration.name.padEnd(22)} ${credentials.integration.apiKey}`,
  ];
  return `${lines.join('\n')}\n`;
}

const program = new Command()
  .name('amend')
  .description(
    'Runs the customer data update procedure: logged, verified, validated, confirmed, approved, applied, propagated, confirmed.',
  )
  .showHelpAfterError();

program
  .command('start')
  .description(
    'Migrate, seed demo data on first run, start sample connected systems, and serve the API with the worker (npm start)',
  )
  .action(async () => {
    const config = unwrap(loadConfig());
    const runtime = unwrap(await openRuntime(config, { isMigrating: true, isResealing: true }));
    const credentialsFile = `${config.dataDir}/demo-credentials.txt`;
    if ((await runtime.store.countCustomers()) === 0) {
      mkdirSync(config.dataDir, { recursive: true });
      process.stderr.write(`Seeding ${DEMO_CUSTOMER_COUNT} demo customers…\n`);
      const { seedDemoData } = await import('../demo/seed-demo-data.ts');
      const credentials = await seedDemoData({ ...runtime, keys: apiKeyIssuer }, DEMO_CUSTOMER_COUNT);
      await keepTablesTidy(runtime.database, { isAnalyseOnly: true });
      writeFileSync(credentialsFile, printCredentials(credentials), { mode: 0o600 });
    }
    const { startDemoSystems } = await import('../demo/demo-systems.ts');
    const demo = await startDemoSystems(runtime.policy, {
      basePort: config.port,
      dataDir: config.dataDir,
      deps: runtime,
    });
    const { runProcess, stopOnSignal } = await serveProcess();
    const running = await runProcess(runtime, {
      isServing: true,
      isWorking: true,
      systems: demo.connectedSystems,
    });
    process.stdout.write(
      [
        '',
        `Amend is serving http://${config.host}:${config.port}  (OpenAPI: /openapi.json, health: /healthz)`,
        `Database: ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`}`,
        'Sample connected systems (their state: GET <url>/ and <url>/customers/<id>):',
        ...demo.systems.map(
          (system) => `  ${system.name.padEnd(10)} ${system.kind.padEnd(8)} ${system.url()}`,
        ),
        config.smtpUrl
          ? 'Mail: sent through SMTP_URL'
          : 'Mail: kept by the built-in catcher: GET /api/v1/mail with a team lead key',
        existsSync(credentialsFile)
          ? `Demo API keys are in ${credentialsFile}`
          : 'Demo data was seeded by an earlier run.',
        '',
      ].join('\n'),
    );
    if (existsSync(credentialsFile)) process.stdout.write(readFileSync(credentialsFile, 'utf8'));
    stopOnSignal(async () => {
      await running.stop();
      await demo.close();
      await runtime.close();
    });
  });

program
  .command('serve')
  .description('Serve the HTTP API (with the outbox worker in-process unless --no-worker)')
  .option('--no-worker', 'serve only; run `amend worker` processes separately')
  .action(async (options: { worker: boolean }) => {
    const config = unwrap(loadConfig());
    const runtime = unwrap(await openRuntime(config, { isMigrating: true, isResealing: true }));
    const { runProcess, stopOnSignal } = await serveProcess();
    const running = await runProcess(runtime, {
      isServing: true,
      isWorking: options.worker,
      systems: connectedSystemsFor(runtime),
    });
    process.stdout.write(
      `Amend is serving http://${config.host}:${config.port}${options.worker ? ' with the worker' : ''}\n`,
    );
    stopOnSignal(async () => {
      await running.stop();
      await runtime.close();
    });
  });

program
  .command('worker')
  .description('Deliver outbox messages to connected systems and write audit checkpoints')
  .action(async () => {
    const config = unwrap(loadConfig());
    const runtime = unwrap(await openRuntime(config, { isMigrating: true, isResealing: true }));
    const { runProcess, stopOnSignal } = await serveProcess();
    const running = await runProcess(runtime, {
      isServing: false,
      isWorking: true,
      systems: connectedSystemsFor(runtime),
    });
    process.stdout.write('Amend worker running.\n');
    stopOnSignal(async () => {
      await running.stop();
      await runtime.close();
    });
  });

program
  .command('migrate')
  .description('Apply pending database migrations')
  .action(() =>
    withRuntime({ isMigrating: false }, async (runtime) => {
      const report = await migrate(runtime.database);
      process.stdout.write(
        report.applied.length > 0
          ? `Applied: ${report.applied.join(', ')}\n`
          : 'The database is up to date.\n',
      );
      if (report.auditTextsFilled > 0)
        process.stdout.write(
          `Gave ${report.auditTextsFilled} earlier audit entries the text their hash covers.\n`,
        );
    }),
  );

program
  .command('demo')
  .description(
    'Seed synthetic customers, one staff member per role and an integration key; print the API keys',
  )
  .addOption(
    new Option('--customers <count>', 'how many customers').default('1000').argParser((value) => {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1 || count > 1_000_000)
        exitWith({
          code: 'REQUEST.INVALID',
          message: `--customers must be a whole number from 1 to 1000000, not "${value}".`,
        });
      return count;
    }),
  )
  .action((options: { customers: number | string }) =>
    withRuntime({ isMigrating: true, isResealing: true }, async (runtime) => {
      const { seedDemoData } = await import('../demo/seed-demo-data.ts');
      const credentials = await seedDemoData({ ...runtime, keys: apiKeyIssuer }, Number(options.customers));
      // After a bulk load, as after pg_restore: the planner must learn the tables' new sizes.
      await keepTablesTidy(runtime.database, { isAnalyseOnly: true });
      process.stdout.write(`Seeded ${options.customers} customers.\n${printCredentials(credentials)}`);
    }),
  );

program
  .command('import')
  .description(`Import customers from a CSV file with a header row (${IMPORT_COLUMNS.join(', ')})`)
  .argument('<file>', 'the CSV file')
  .option('--errors <file>', 'where to write the rejected rows report (default: <file>.errors.csv)')
  .option(
    '--ignore-unknown-columns',
    'import a file whose header names columns Amend does not import, leaving their values out',
  )
  .action((file: string, options: { errors?: string; ignoreUnknownColumns?: boolean }) => {
    if (!existsSync(file) || !statSync(file).isFile())
      exitWith({
        code: 'IMPORT.FILE_INVALID',
        message: `Cannot read ${file}: no such file. Give the path of a CSV file.`,
      });
    refuseUnwritable(options.errors ?? `${file}.errors.csv`, '--errors');
    return withRuntime({ isMigrating: true, isResealing: true }, async (runtime) => {
      const total = statSync(file).size;
      const input = createReadStream(file);
      const bar = new SingleBar(
        {
          format: 'importing [{bar}] {percentage}% | {rows} rows | {imported} kept | {rejected} rejected',
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      bar.start(total, 0, { rows: 0, imported: 0, rejected: 0 });
      // Blank lines are read (not skipped by the parser) so that each row's line can be counted here: csv-parse's
      // own count (its per-record info) cost ~6 µs a row, half again its parsing.
      const records = withLines(
        input.pipe(parse({ bom: true, trim: true, relax_column_count: true })) as AsyncIterable<string[]>,
      );
      const first = await records.next().catch((error: unknown) => {
        bar.stop();
        if (!(error instanceof CsvError)) throw error;
        return exitWith({
          code: 'IMPORT.FILE_INVALID',
          message: `${file} is not a readable CSV file: ${csvFault(error)}.`,
        });
      });
      const columns = importColumns(first.done ? [] : first.value.record, {
        isIgnoringUnknown: options.ignoreUnknownColumns === true,
      });
      if (!columns.ok) {
        bar.stop();
        exitWith({ ...columns.error, message: `${file}: ${columns.error.message}` });
      }
      const header = columns.value;
      const rows = (async function* (): AsyncGenerator<ImportRow> {
        for (let next = await records.next(); !next.done; next = await records.next()) {
          const { record, line } = next.value;
          const values: Record<string, string | undefined> = {};
          let extraValues = Math.max(0, record.length - header.length);
          for (let i = 0; i < header.length; i++)
            if (header[i] !== '') values[header[i]!] = record[i];
            else if (record[i]) extraValues += 1;
          yield { line, values, extraValues };
        }
      })();
      // Rejected rows go to the errors file as they are read; it is created only if a row is rejected.
      const errorsFile = options.errors ?? `${file}.errors.csv`;
      const errorsOut: { csv?: ReturnType<typeof csvStream>; written?: Promise<void> } = {};
      const writeRejected = async (problems: readonly ImportRowError[]) => {
        if (!errorsOut.csv) {
          errorsOut.csv = csvStream({ header: true, columns: ['line', 'column', 'reason', 'message'] });
          errorsOut.written = pipeline(errorsOut.csv, createWriteStream(errorsFile));
        }
        for (const problem of problems) if (!errorsOut.csv.write(problem)) await once(errorsOut.csv, 'drain');
      };
      let report: Awaited<ReturnType<typeof importCustomers>>;
      const workers = startImportWorkers(
        runtime.config.dataKeys ?? loadOrCreateDataKeys(runtime.config.dataKeysFile),
      );
      try {
        const write = (batch: EncodedNewCustomers) => writeEncodedNewCustomers(runtime.database, batch);
        report = await importCustomers({ prepare: workers.prepare, write }, rows, {
          onProgress: (progress) =>
            bar.update(input.bytesRead, {
              rows: progress.rowsRead,
              imported: progress.imported,
              rejected: progress.rejected,
            }),
          onRejected: writeRejected,
        });
        errorsOut.csv?.end();
        await errorsOut.written;
      } catch (error) {
        bar.stop();
        if (!(error instanceof ImportInterrupted)) throw error;
        errorsOut.csv?.end();
        await errorsOut.written?.catch(() => {});
        const { report: kept, cause } = error;
        const sofar = `Read ${kept.rowsRead} rows: imported ${kept.imported}, rejected ${kept.rejected}${kept.rejected > 0 ? ` (listed in ${errorsFile})` : ''}; each batch of up to 1,000 rows was imported whole, with its audit entries, or not at all.`;
        const isFileFault =
          cause instanceof CsvError || (cause as NodeJS.ErrnoException | undefined)?.path === file;
        exitWith(
          isFileFault
            ? {
                code: 'IMPORT.FILE_INVALID',
                message: `${file} is not a readable CSV file: ${cause instanceof CsvError ? csvFault(cause) : error.message}. ${sofar}`,
              }
            : {
                code: 'SERVICE.UNAVAILABLE',
                message: `The import stopped: ${error.message}. ${sofar} The customers imported stay; fix the cause before importing the rest.`,
              },
        );
      } finally {
        await workers.close();
      }
      bar.update(total);
      bar.stop();
      if (report.imported > 0) await keepTablesTidy(runtime.database, { isAnalyseOnly: true });
      process.stdout.write(
        `Read ${report.rowsRead} rows: imported ${report.imported}, rejected ${report.rejected}.${report.rejected > 0 ? ` Rejected rows are listed in ${errorsFile}.` : ''}\n`,
      );
    });
  });

const deadLetters = program
  .command('dead-letters')
  .description('Deliveries to connected systems that gave up');

deadLetters
  .command('list')
  .description('List dead letters, oldest first')
  .option('--system <id>', 'only this connected system')
  .action((options: { system?: string }) =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      let after: number | undefined;
      let count = 0;
      do {
        const page = await runtime.store.listDeadLetters({ destination: options.system, limit: 200, after });
        for (const row of page.items)
          process.stdout.write(
            `${String(row.id).padStart(8)}  ${row.destination.padEnd(12)} customer ${row.customerId}  change ${row.changeRequestId ?? '-'}  attempts ${row.attempts}  ${row.lastError ?? ''}\n`,
          );
        count += page.items.length;
        after = page.nextCursor ?? undefined;
      } while (after !== undefined);
      process.stdout.write(
        count === 0
          ? 'No dead letters.\n'
          : `${count} dead letters. Retry one with \`amend dead-letters retry <id>\`, or replay current values with \`amend dead-letters replay <id>\`.\n`,
      );
    }),
  );

for (const [verb, run, description] of [
  ['retry', retryDeadLetter, 'Queue a dead letter again as it was (after fixing the fault)'],
  ['replay', replayDeadLetter, "Replace a dead letter with the customer's current values for that system"],
] as const) {
  deadLetters
    .command(verb)
    .description(description)
    .argument('<id>', 'the dead letter id (from `amend dead-letters list`)')
    .action((id: string) => {
      if (!/^\d+$/.test(id))
        exitWith({
          code: 'REQUEST.INVALID',
          message: `The dead letter id must be a number from \`amend dead-letters list\`, not "${id}".`,
        });
      return withRuntime({ isMigrating: true }, async (runtime) => {
        const result = await run(runtime, Number(id), { kind: 'system', id: 'cli', role: 'admin' });
        if (!result.ok) exitWith(result.error);
        process.stdout.write(
          `Dead letter ${id} to ${result.value.destination}: ${verb === 'retry' ? 'queued again' : 'replaced by a message with current values'}.\n`,
        );
      });
    });
}

program
  .command('reconcile')
  .description(
    'Compare every customer with every read-capable connected system; push current values where they differ',
  )
  .option('--json', 'print the full report as JSON')
  .action((options: { json?: boolean }) =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      const systems = connectedSystemsFor(runtime);
      const total = await runtime.store.countCustomers();
      const bar = new SingleBar(
        { format: 'reconciling [{bar}] {value}/{total} customers', stream: process.stderr, hideCursor: true },
        Presets.shades_classic,
      );
      bar.start(total, 0);
      const report = await reconcileConnectedSystems({ ...runtime, systems }, (checked) =>
        bar.update(checked),
      );
      bar.stop();
      for (const system of systems.values()) await system.close?.();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const drift of report.drift)
        process.stdout.write(
          `drift  customer ${drift.customerId}  ${drift.system}: ${drift.paths.join(', ')}  → fix: pushed current values\n`,
        );
      process.stdout.write(
        `Checked ${report.customersChecked} customers against ${report.systemsChecked.join(', ') || 'no read-capable system'}` +
          `${report.systemsSkipped.length > 0 ? ` (not readable, skipped: ${report.systemsSkipped.join(', ')})` : ''}: ` +
          `${report.drift.length} drifted, each re-pushed through the outbox; ${report.readFailures} read failures.\n`,
      );
      if (report.readFailures > 0) process.exitCode = ERROR_CATALOGUE['SERVICE.UNAVAILABLE'].exitCode;
    }),
  );

program
  .command('report')
  .description(
    'The monthly report: volume, speed, accuracy, unauthorised changes, SLA breaches, propagation, compliance',
  )
  .requiredOption('--month <YYYY-MM>', 'the month to report', (value: string) => {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value))
      exitWith({
        code: 'REQUEST.INVALID',
        message: `--month must be YYYY-MM, e.g. 2026-11, not "${value}".`,
      });
    return value;
  })
  .addOption(
    new Option('--format <format>', 'json, csv or pdf').choices(['json', 'csv', 'pdf']).default('json'),
  )
  .option(
    '--out <file>',
    'write to this file (default: standard output; pdf defaults to amend-report-<month>.pdf)',
  )
  .action((options: { month: string; format: 'json' | 'csv' | 'pdf'; out?: string }) =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      const out = options.out ?? (options.format === 'pdf' ? `amend-report-${options.month}.pdf` : undefined);
      if (out) refuseUnwritable(out, '--out');
      const report = await buildMonthlyReport(runtime, options.month);
      const body =
        options.format === 'pdf'
          ? await (await import('../adapters/report/monthly-report-pdf.ts')).renderMonthlyReportPdf(report)
          : options.format === 'csv'
            ? stringify(monthlyReportRows(report))
            : `${JSON.stringify(report, null, 2)}\n`;
      if (out) {
        writeFileSync(out, body);
        process.stderr.write(`Wrote ${out}\n`);
      } else process.stdout.write(body);
    }),
  );

const audit = program.command('audit').description('The tamper-evident audit log');

audit
  .command('verify')
  .description('Check every entry, link, chain head and signed checkpoint; name the first broken entry')
  .option('--json', 'print the full report as JSON')
  .action((options: { json?: boolean }) =>
    withRuntime({ isMigrating: false }, async (runtime) => {
      const started = performance.now();
      const report = await verifyAuditLog({ store: runtime.store, signer: runtime.signer });
      const seconds = Math.round(performance.now() - started) / 1000;
      if (options.json) process.stdout.write(`${JSON.stringify({ ...report, seconds }, null, 2)}\n`);
      else if (report.isIntact)
        process.stdout.write(
          `Audit log intact: ${report.entriesChecked} entries in ${report.chainsChecked} chains, ${report.checkpointsChecked} signed checkpoints (checked in ${seconds} s).\n`,
        );
      else {
        process.stdout.write(`Audit log BROKEN. First broken: ${report.firstBroken?.message}\n`);
        for (const problem of report.problems.slice(1)) process.stdout.write(`  also: ${problem.message}\n`);
      }
      if (!report.isIntact) process.exitCode = ERROR_CATALOGUE['AUDIT.CHAIN_BROKEN'].exitCode;
    }),
  );

const monthOption = (value: string): string => {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value))
    exitWith({ code: 'REQUEST.INVALID', message: `--month must be YYYY-MM, e.g. 2026-11, not "${value}".` });
  return value;
};

audit
  .command('review')
  .description('List every change applied in the month that lacks anything the procedure requires')
  .requiredOption('--month <YYYY-MM>', 'the month to review', monthOption)
  .option('--json', 'print the findings as JSON')
  .action((options: { month: string; json?: boolean }) =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      const review = await reviewProcedureCompleteness(runtime, options.month);
      if (options.json) process.stdout.write(`${JSON.stringify(review, null, 2)}\n`);
      else {
        for (const finding of review.findings)
          process.stdout.write(
            `${finding.code.padEnd(28)} change ${finding.changeRequestId}  customer ${finding.customerId}  ${finding.message}\n`,
          );
        process.stdout.write(
          review.findings.length === 0
            ? `${options.month}: all ${review.appliedChanges} applied changes met the procedure.\n`
            : `${options.month}: ${review.findings.length} findings in ${review.appliedChanges} applied changes.\n`,
        );
      }
      if (review.findings.length > 0) process.exitCode = 1;
    }),
  );

audit
  .command('checkpoint')
  .description(
    'Sign the chain heads that moved since the last checkpoint (the worker does this every minute)',
  )
  .action(() =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      const written = await writeAuditCheckpoint({
        store: runtime.store,
        signer: runtime.signer,
        clock: runtime.clock,
      });
      process.stdout.write(
        written.length > 0
          ? `Wrote checkpoint ${written.map((c) => c.sequence).join(', ')} over ${written.reduce((n, c) => n + c.heads.length, 0)} chain heads.\n`
          : 'Nothing moved since the last checkpoint.\n',
      );
    }),
  );

const keys = program.command('keys').description('The data keys that encrypt personal fields at rest');

/** Each table as the rotation's progress names it. */
const RECORDS_NAMED: Readonly<Record<SealedRecords, string>> = {
  customer: 'customers',
  change_request: 'change requests',
  outbox: 'deliveries (outbox)',
  manual_task: 'manual tasks',
  staff_user: 'staff TOTP secrets',
};

keys
  .command('rotate')
  .description(
    'Add a new data key, make it current, and re-encrypt what is sealed (customers, change requests, deliveries, manual tasks, TOTP secrets) with it in batches while the service runs',
  )
  .option('--reseal-only', 'do not add a key; re-encrypt what is not yet under the current key')
  .action((options: { resealOnly?: boolean }) =>
    withRuntime({ isMigrating: true }, async (runtime) => {
      if (runtime.config.dataKeys && !options.resealOnly)
        exitWith({
          code: 'CONFIG.INVALID',
          message:
            'The data keys come from AMEND_DATA_KEYS: add the new key there (first as "current", keeping the old ones), restart, then run "amend keys rotate --reseal-only".',
        });
      if (!options.resealOnly) {
        const added = addDataKey(runtime.config.dataKeysFile);
        process.stdout.write(
          `Added data key ${added.keyId} (was ${added.previous}); running servers pick it up within seconds.\n`,
        );
        // Let every process see the new key before re-encrypting, so none keeps writing under the old one.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
      }
      let remaining = 0;
      for (const records of SEALED_RECORDS) {
        const what = RECORDS_NAMED[records];
        const bar = new SingleBar(
          { format: `Re-encrypting {bar} {value}/{total} ${what}` },
          Presets.shades_classic,
        );
        let started = false;
        const outcome = await resealAll(runtime.store, records, (done, total) => {
          if (!started) bar.start(total, 0);
          started = true;
          bar.update(Math.min(done, total));
        });
        if (started) bar.stop();
        process.stdout.write(
          `Re-encrypted ${outcome.resealed} ${what} under key ${runtime.cipher.currentKeyId}; ${outcome.remaining} left.\n`,
        );
        remaining += outcome.remaining;
      }
      process.stdout.write(
        'Keep the old keys in the file: audit entries are append-only and stay sealed under the key they were written with.\n',
      );
      if (remaining > 0) process.exitCode = 1;
    }),
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A command's own failures exit with their code; what reaches here is the database going away mid-command,
  // or a bug. Either way one line that says what to do, not a stack trace.
  const loaded = loadConfig();
  const fault = loaded.ok ? databaseFault(error, loaded.value) : null;
  if (fault) exitWith(fault);
  const { code, syscall, address, port } = error as NodeJS.ErrnoException & {
    address?: string;
    port?: number;
  };
  if (syscall === 'listen' && (code === 'EADDRINUSE' || code === 'EACCES'))
    exitWith({
      code: 'CONFIG.INVALID',
      message: `Cannot listen on ${address}:${port}: ${code === 'EADDRINUSE' ? 'another process holds the port' : 'not allowed to this user'} (${code}). Stop what holds it, or set PORT (and HOST) to another.`,
    });
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  exitWith({
    code: 'INTERNAL',
    message: 'amend stopped on an unexpected error (above); nothing after it was done. Please report it.',
  });
}
