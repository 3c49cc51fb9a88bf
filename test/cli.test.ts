import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/adapters/audit-signer.ts';
import { addDataKey, createFileFieldCipher } from '../src/adapters/field-cipher.ts';
import { openDatabase } from '../src/store/database.ts';
import { createStore } from '../src/store/store.ts';
import { processEnvironment } from './support/amend-processes.ts';
import { openTestDatabase, testEngine } from './support/test-database.ts';

const run = promisify(execFile);
const AMEND = new URL('../bin/amend.js', import.meta.url).pathname;
const workDir = mkdtempSync(join(tmpdir(), 'amend-cli-'));
let env: NodeJS.ProcessEnv;
let closeDatabase: () => Promise<void> = async () => {};

/** Runs `amend …` as a user would, answering exit code, stdout and stderr. */
async function amend(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [AMEND, ...args], {
      env,
      cwd: workDir,
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Opens the CLI's database directly, as someone with database access could, to tamper with it. */
async function withDirectAccess(work: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<void>) {
  const database = await openDatabase(
    env.DATABASE_URL ? { url: env.DATABASE_URL, poolSize: 1 } : { dataDir: env.AMEND_DATA_DIR },
  );
  try {
    await work(database.db);
  } finally {
    await database.close();
  }
}

async function countCustomers(): Promise<number> {
  let count = 0;
  await withDirectAccess(async (db) => {
    count = (await sql<{ count: number }>`SELECT count(*)::int AS count FROM customer`.execute(db)).rows[0]!
      .count;
  });
  return count;
}

beforeAll(async () => {
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AMEND_LOG_LEVEL: 'silent',
    AMEND_AUDIT_SIGNING_KEY_FILE: join(workDir, 'audit-key.pem'),
    AMEND_DATA_KEYS_FILE: join(workDir, 'data-keys.json'),
  };
  if (testEngine() === 'postgres') {
    const database = await openTestDatabase();
    await database.db.destroy();
    env.DATABASE_URL = database.url!;
    closeDatabase = database.close;
  } else {
    env.AMEND_DATA_DIR = join(workDir, 'data');
  }
});
afterAll(() => closeDatabase());

describe('amend CLI', () => {
  it('migrates, then finds nothing to do', async () => {
    const first = await amend('migrate');
    expect(first.code, first.stderr).toBe(0);
    const again = await amend('migrate');
    expect(again.stdout).toContain('up to date');
  });

  it('imports valid rows, reports each invalid row with its line, column and fix', async () => {
    const file = join(workDir, 'customers.csv');
    writeFileSync(
      file,
      [
        'legal_name,email,phone,address_line1,locality,region,postcode,country,date_of_birth,consent_email',
        'Ana María López,ana@example.com,0412 345 678,12 Example St,Carlton,VIC,3053,AU,1984-03-09,yes',
        'Oliver Smith,oliver@example.co.uk,020 7946 0018,10 Downing Street,London,,SW1A 2AA,GB,1970-01-01,no',
        'Bad Email,not-an-email,,,,,,,,',
        ',nobody@example.com,,,,,,,,',
        'Zoë Brown,zoe@example.com,+1 212 555 0123,1 Main St,Springfield,IL,6270,US,,',
      ].join('\n'),
    );
    const result = await amend('import', file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Read 5 rows: imported 2, rejected 3');
    const report = readFileSync(`${file}.errors.csv`, 'utf8');
    expect(report).toContain('line,column,reason,message');
    expect(report).toMatch(/4,email,EMAIL\.SYNTAX/);
    expect(report).toMatch(/5,legal_name,NAME\.EMPTY/);
    expect(report).toMatch(/6,postcode,ADDRESS\.POSTCODE/);
  });

  it('lists every rejected row of a file with no good row, and refuses a header without legal_name', async () => {
    const bad = join(workDir, 'all-bad.csv');
    const lines = Array.from({ length: 2_500 }, (_, i) => `Person Example,not-an-email-${i}`);
    writeFileSync(bad, ['legal_name,email', ...lines].join('\n'));
    const rejected = await amend('import', bad);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(rejected.stdout).toContain('Read 2500 rows: imported 0, rejected 2500');
    const listed = readFileSync(`${bad}.errors.csv`, 'utf8').trim().split('\n');
    expect(listed).toHaveLength(2_501);
    expect(listed.at(-1)).toMatch(/^2501,email,EMAIL\.SYNTAX/);

    const headerless = join(workDir, 'no-name.csv');
    writeFileSync(headerless, 'name,email\nAna,ana@example.com\n');
    const refused = await amend('import', headerless);
    expect(refused.code).toBe(66);
    expect(refused.stderr).toContain('no legal_name column');
    expect(existsSync(`${headerless}.errors.csv`)).toBe(false);
  });

  it('stops at a malformed line, naming the file and what was kept', async () => {
    const file = join(workDir, 'malformed.csv');
    writeFileSync(file, 'legal_name,email\nAna Example,ana.m@example.com\n"Unclosed,quote@example.com\n');
    const result = await amend('import', file);
    expect(result.code).toBe(66);
    expect(result.stderr).toContain(`${file} is not a readable CSV file: Quote Not Closed at line 3`);
    expect(result.stderr).toContain('imported 0, rejected 0');
    // The parser's own message quotes the value: personal data, which stays out of the terminal and its logs.
    expect(result.stderr).not.toContain('Unclosed');
    expect(result.stderr).toContain('IMPORT.FILE_INVALID');
  });

  it('refuses an output path it could not write before doing the work, naming the option and the fix', async () => {
    const report = await amend(
      'report',
      '--month',
      '2026-11',
      '--format',
      'csv',
      '--out',
      join(workDir, 'no', 'r.csv'),
    );
    expect(report.code).toBe(64);
    expect(report.stderr).toContain(
      `--out ${join(workDir, 'no', 'r.csv')}: the folder ${join(workDir, 'no')} does not exist`,
    );
    const file = join(workDir, 'errors-to-a-folder.csv');
    writeFileSync(file, 'legal_name,email\nAna Folder,not-an-email\n');
    const imported = await amend('import', '--errors', workDir, file);
    expect(imported.code).toBe(64);
    expect(imported.stderr).toContain(`--errors ${workDir}: it is a folder; give a file name.`);
    expect(imported.stdout).not.toContain('Read');
  });

  it('refuses a missing file with a message naming the fix', async () => {
    const result = await amend('import', join(workDir, 'nope.csv'));
    expect(result.code).toBe(66);
    expect(result.stderr).toContain('no such file');
    expect(result.stderr).toContain('IMPORT.FILE_INVALID');
  });

  it('verifies the audit log, then names the first broken entry after tampering', async () => {
    const checkpoint = await amend('audit', 'checkpoint');
    expect(checkpoint.stdout).toContain('Wrote checkpoint 1 over 2 chain heads');
    const intact = await amend('audit', 'verify');
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toContain('Audit log intact: 2 entries in 2 chains, 1 signed checkpoints');

    let chains: string[] = [];
    await withDirectAccess(async (db) => {
      chains = (
        await sql<{ chain: string }>`SELECT chain FROM audit_entry ORDER BY chain`.execute(db)
      ).rows.map((r) => r.chain);
      await sql`ALTER TABLE audit_entry DISABLE TRIGGER USER`.execute(db);
      await sql`UPDATE audit_entry SET details = '{"forged": true}',
        hashed_json = jsonb_set(hashed_json::jsonb, '{details}', '{"forged": true}')::text WHERE chain = ${chains[0]}`.execute(
        db,
      );
      await sql`DELETE FROM audit_entry WHERE chain = ${chains[1]}`.execute(db);
      await sql`ALTER TABLE audit_entry ENABLE TRIGGER USER`.execute(db);
    });
    const broken = await amend('audit', 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`First broken: Chain ${chains[0]}, entry #1`);
    expect(broken.stdout).toContain('edited');
    expect(broken.stdout).toContain(`Chain ${chains[1]}`);
  });

  it('lists dead letters and refuses a malformed id with the fix', async () => {
    const list = await amend('dead-letters', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('No dead letters.');
    const bad = await amend('dead-letters', 'retry', 'abc');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('must be a number from `amend dead-letters list`');
    const missing = await amend('dead-letters', 'replay', '999999');
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain('DEAD_LETTER.NOT_FOUND');
  });

  it('refuses to reconcile without the connected systems the policy names', async () => {
    const result = await amend('reconcile');
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('AMEND_CONNECTED_SYSTEMS_FILE');
  });

  it('reviews a month and writes the monthly report as CSV and PDF', async () => {
    const review = await amend('audit', 'review', '--month', '2026-11');
    expect(review.code, review.stderr).toBe(0);
    expect(review.stdout).toMatch(/2026-11: all \d+ applied changes met the procedure/);
    const csv = await amend('report', '--month', '2026-11', '--format', 'csv');
    expect(csv.stdout.split('\n')[0]).toBe('section,metric,key,value');
    const pdfFile = join(workDir, 'report.pdf');
    const pdf = await amend('report', '--month', '2026-11', '--format', 'pdf', '--out', pdfFile);
    expect(pdf.code, pdf.stderr).toBe(0);
    expect(readFileSync(pdfFile).subarray(0, 5).toString()).toBe('%PDF-');
    const bad = await amend('report', '--month', 'November');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--month must be YYYY-MM');
  });

  it('rotates the data key: a new current key, every customer and record re-encrypted under it, old keys kept', async () => {
    const rotated = await amend('keys', 'rotate');
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain('Added data key k2 (was k1)');
    expect(rotated.stdout).toMatch(/Re-encrypted \d+ customers under key k2; 0 left\./);
    // And the other tables with sealed values (test/encryption-at-rest.test.ts looks at what they hold).
    for (const records of [
      'change requests',
      'deliveries \\(outbox\\)',
      'manual tasks',
      'staff TOTP secrets',
    ])
      expect(rotated.stdout).toMatch(new RegExp(`Re-encrypted \\d+ ${records} under key k2; 0 left\\.`));
    const file = JSON.parse(readFileSync(join(workDir, 'data-keys.json'), 'utf8'));
    expect(file.current).toBe('k2');
    expect(Object.keys(file.keys).sort()).toEqual(['k1', 'k2']);
    await withDirectAccess(async (db) => {
      const keys = await sql<{ key_id: string }>`SELECT DISTINCT key_id FROM customer`.execute(db);
      expect(keys.rows).toEqual([{ key_id: 'k2' }]);
    });
    // Records still open after rotation, through the CLI's own runtime.
    const report = await amend('report', '--month', '2026-11', '--format', 'json');
    expect(report.code, report.stderr).toBe(0);

    const saved = env;
    env = { ...env, AMEND_DATA_KEYS: readFileSync(join(workDir, 'data-keys.json'), 'utf8') };
    const fromEnvironment = await amend('keys', 'rotate');
    env = { ...saved, AMEND_DATA_KEYS: '{not json' };
    const malformed = await amend('migrate');
    env = saved;
    expect(fromEnvironment.code).toBe(78);
    expect(fromEnvironment.stderr).toContain('AMEND_DATA_KEYS');
    expect(malformed.code).toBe(78);
    expect(malformed.stderr).toContain('AMEND_DATA_KEYS');

    // With the keys in AMEND_DATA_KEYS: a new current key there, then a pass that seals under it.
    addDataKey(join(workDir, 'data-keys.json'));
    env = { ...saved, AMEND_DATA_KEYS: readFileSync(join(workDir, 'data-keys.json'), 'utf8') };
    const resealed = await amend('keys', 'rotate', '--reseal-only');
    env = saved;
    expect(resealed.code, resealed.stderr).toBe(0);
    expect(resealed.stdout).toMatch(/Re-encrypted [1-9]\d* customers under key k3; 0 left\./);
  });

  it('imports a file of many batches on worker threads: problems in file order, records readable, chains intact', async () => {
    const file = join(workDir, 'many.csv');
    // Names may not hold digits: row 123 is "Many Bcd".
    const name = (i: number) =>
      `Many ${String(i)
        .replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!)
        .replace(/^./, (c) => c.toUpperCase())}`;
    const rows = Array.from({ length: 3_500 }, (_, i) =>
      i % 7 === 3
        ? `${name(i)},not-an-email-${i},,,,,,`
        : `${name(i)},many${i}@example.com,+61 4${String(10_000_000 + i).slice(-8)},${i} Tab\\Street,Carlton,VIC,3053,AU`,
    );
    writeFileSync(
      file,
      ['legal_name,email,phone,address_line1,locality,region,postcode,country', ...rows].join('\n'),
    );
    const result = await amend('import', file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Read 3500 rows: imported 3000, rejected 500');
    const lines = readFileSync(`${file}.errors.csv`, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => Number(line.split(',')[0]));
    expect(lines).toEqual(Array.from({ length: 500 }, (_, k) => 7 * k + 3 + 2));

    // The tampering test above left two chains broken; the imported chains must add no other problem.
    const verified = await amend('audit', 'verify', '--json');
    const report = JSON.parse(verified.stdout) as { entriesChecked: number; problems: { chain: string }[] };
    expect(report.entriesChecked).toBeGreaterThanOrEqual(3_000);
    expect(new Set(report.problems.map((problem) => problem.chain)).size).toBe(2);
    await withDirectAccess(async (db) => {
      const store = createStore(db, sha256Hex, createFileFieldCipher(join(workDir, 'data-keys.json')));
      const last = await store.listCustomers({ limit: 2, email: 'MANY3499@example.com' });
      expect(last.items).toHaveLength(1);
      expect(last.items[0]).toMatchObject({
        legalName: 'Many Dejj',
        phone: '+61410003499',
        postalAddress: { lines: ['3499 Tab\\Street'], locality: 'Carlton', postcode: '3053', country: 'AU' },
      });
      const trail = await store.listAudit({ chain: last.items[0]!.id, limit: 5 });
      expect(trail.entries.map((entry) => entry.action)).toEqual(['customer.created']);
      expect(trail.entries[0]!.details).toMatchObject({ source: 'import' });
    });
  });

  it('stops an import the database refuses part-way, keeping whole batches only and saying how many', async () => {
    const file = join(workDir, 'refused.csv');
    const rows = Array.from({ length: 3_000 }, (_, i) => `Refused Person,refused${i}@example.com`);
    writeFileSync(file, ['legal_name,email', ...rows].join('\n'));
    // The database refuses one customer of the second batch, as a full disk or a lost server would refuse a write.
    const cipher = createFileFieldCipher(join(workDir, 'data-keys.json'));
    const refusedIndex = cipher.blindIndex('email', 'refused1500@example.com');
    await withDirectAccess(async (db) => {
      await sql
        .raw(`CREATE FUNCTION import_fault() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.email_index = '${refusedIndex}' THEN RAISE EXCEPTION 'no space left (test)'; END IF;
            RETURN NEW;
          END $$`)
        .execute(db);
      await sql`CREATE TRIGGER import_fault BEFORE INSERT ON customer FOR EACH ROW EXECUTE FUNCTION import_fault()`.execute(
        db,
      );
    });
    const before = await countCustomers();
    const startedAt = new Date();
    const result = await amend('import', file);
    await withDirectAccess(async (db) => {
      await sql`DROP TRIGGER import_fault ON customer`.execute(db);
      await sql`DROP FUNCTION import_fault()`.execute(db);
    });
    expect(result.code).toBe(69);
    expect(result.stderr).toContain('The import stopped: no space left (test)');
    expect(result.stderr).toContain('SERVICE.UNAVAILABLE');
    // Batches beside the refused one may have committed or not; the count said is exactly what was kept.
    const said = Number(/imported (\d+), rejected 0; each batch/.exec(result.stderr)?.[1]);
    expect(said % 1_000).toBe(0);
    expect(said).toBeLessThanOrEqual(2_000);
    expect((await countCustomers()) - before).toBe(said);
    await withDirectAccess(async (db) => {
      const store = createStore(db, sha256Hex, cipher);
      expect((await store.listCustomers({ limit: 1, email: 'refused1500@example.com' })).items).toEqual([]);
      expect((await store.listCustomers({ limit: 1, email: 'refused1001@example.com' })).items).toEqual([]);
      const unaudited = await sql<{ count: number }>`
        SELECT count(*)::int AS count FROM customer
        WHERE created_at >= ${startedAt} AND NOT EXISTS (SELECT 1 FROM audit_entry WHERE chain = customer.id::text AND action = 'customer.created')`.execute(
        db,
      );
      expect(unaudited.rows[0]!.count).toBe(0);
    });
  });

  it('says what to fix when PostgreSQL is unreachable or refuses the database or user, never with a stack trace', async () => {
    const saved = env;
    const file = join(workDir, 'unreachable.csv');
    writeFileSync(file, 'legal_name\nAna Example\n');
    const attempts: [string, string[], number, RegExp][] = [
      [
        'postgres://amend:s3cret@127.0.0.1:1/amend',
        ['migrate'],
        69,
        /Cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\): start it, or fix the host and port/,
      ],
      [
        'postgres://amend:s3cret@127.0.0.1:1/amend',
        ['import', file],
        69,
        /Cannot reach PostgreSQL at 127\.0\.0\.1:1/,
      ],
    ];
    if (saved.DATABASE_URL) {
      const url = new URL(saved.DATABASE_URL);
      url.pathname = '/amend_no_such_database';
      attempts.push([
        url.toString(),
        ['audit', 'verify'],
        78,
        /has no database "amend_no_such_database": create it/,
      ]);
      url.pathname = new URL(saved.DATABASE_URL).pathname;
      url.username = 'amend_no_such_user';
      attempts.push([url.toString(), ['migrate'], 78, /refused user "amend_no_such_user"/]);
    }
    try {
      for (const [databaseUrl, args, code, message] of attempts) {
        env = { ...saved, DATABASE_URL: databaseUrl };
        const result = await amend(...args);
        expect(result.code, `${args[0]}: ${result.stderr}`).toBe(code);
        expect(result.stderr).toMatch(message);
        expect(result.stderr).not.toMatch(/\n\s+at |Node\.js v|s3cret/);
      }
    } finally {
      env = saved;
    }
  });

  it('says which address is taken when the port it should serve on is held by another process', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const { env: serving, systems } = await processEnvironment(
      join(workDir, 'taken-port'),
      env.DATABASE_URL ?? null,
    );
    const saved = env;
    try {
      // The CLI's own database and keys, with connected systems to serve.
      env = {
        ...saved,
        AMEND_CONNECTED_SYSTEMS_FILE: serving.AMEND_CONNECTED_SYSTEMS_FILE,
        PORT: String(port),
      };
      const result = await amend('serve');
      expect(result.code, result.stderr).toBe(78);
      expect(result.stderr).toContain(
        `Cannot listen on 127.0.0.1:${port}: another process holds the port (EADDRINUSE)`,
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      env = saved;
      holder.close();
      await Promise.all(systems.map((system) => system.close()));
    }
  });

  it('refuses a damaged key file, naming it, rather than signing with what is left of it', async () => {
    const saved = env;
    const emptied = join(workDir, 'emptied-link.key');
    writeFileSync(emptied, '');
    const garbled = join(workDir, 'garbled-signing-key.pem');
    writeFileSync(garbled, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    try {
      env = { ...saved, AMEND_LINK_SIGNING_KEY_FILE: emptied };
      const empty = await amend('audit', 'verify');
      expect(empty.code, empty.stderr).toBe(78);
      expect(empty.stderr).toContain(
        `The key file ${emptied} does not hold a 32-byte key in base64 (it holds 0 bytes)`,
      );
      env = { ...saved, AMEND_AUDIT_SIGNING_KEY_FILE: garbled };
      const pem = await amend('audit', 'verify');
      expect(pem.code, pem.stderr).toBe(78);
      expect(pem.stderr).toContain(`Cannot use the key file ${garbled}`);
      expect(pem.stderr).not.toMatch(/\n\s+at /);

      // Another server's data keys: the customers here were sealed under keys this file does not hold.
      const otherKeys = join(workDir, 'other-data-keys.json');
      env = { ...saved, AMEND_DATA_KEYS_FILE: otherKeys };
      const file = join(workDir, 'other-keys.csv');
      writeFileSync(file, 'legal_name\nAna Keys\n');
      const sealed = await amend('import', file);
      expect(sealed.code, sealed.stderr).toBe(78);
      expect(sealed.stderr).toMatch(
        new RegExp(`holds values sealed with data key "k\\d+", which ${otherKeys} does not hold`),
      );

      // Another server's own keys file, which named its first key as this one's is named.
      const { current } = JSON.parse(readFileSync(join(workDir, 'data-keys.json'), 'utf8'));
      const random = () => randomBytes(32).toString('base64');
      writeFileSync(
        otherKeys,
        JSON.stringify({ current, keys: { [current]: random() }, blindIndexKey: random() }),
      );
      const sameName = await amend('import', file);
      expect(sameName.code, sameName.stderr).toBe(78);
      expect(sameName.stderr).toContain(
        `holds values sealed with data key "${current}", which ${otherKeys} holds a different key under that name`,
      );
    } finally {
      env = saved;
    }
  });

  it('refuses invalid configuration naming the variable', async () => {
    const saved = env;
    env = { ...env, PORT: 'eighty' };
    const result = await amend('migrate');
    env = saved;
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('PORT');

    env = { ...saved, AMEND_TRUST_PROXY: '10.0.0.0/8, proxy.internal' };
    const proxy = await amend('migrate');
    env = saved;
    expect(proxy.code).toBe(78);
    expect(proxy.stderr).toContain('AMEND_TRUST_PROXY: "proxy.internal" is not an address or CIDR range');
  });

  it('refuses a header naming a column it does not import, unless told to leave it out, before reading a row', async () => {
    const file = join(workDir, 'typo.csv');
    writeFileSync(file, 'legal_name,Emial,notes\nAna Typo,ana.typo@example.com,VIP\n');
    const refused = await amend('import', file);
    expect(refused.code).toBe(66);
    expect(refused.stderr).toContain('columns Amend does not import: emial, notes');
    expect(refused.stderr).toContain('--ignore-unknown-columns');
    expect(existsSync(`${file}.errors.csv`)).toBe(false);

    const ignoring = await amend('import', '--ignore-unknown-columns', file);
    expect(ignoring.code, ignoring.stderr).toBe(0);
    expect(ignoring.stdout).toContain('Read 1 rows: imported 1, rejected 0');

    // A spreadsheet's trailing comma: a column with no name, which may hold no value.
    const trailing = join(workDir, 'trailing.csv');
    writeFileSync(
      trailing,
      'legal_name,email,\nAna Trailing,ana.trailing@example.com,\nBo Trailing,bo@example.com,VIP\n',
    );
    const kept = await amend('import', trailing);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('Read 2 rows: imported 1, rejected 1');
    expect(readFileSync(`${trailing}.errors.csv`, 'utf8')).toMatch(/^3,\(row\),ROW\.EXTRA_VALUES/m);

    const twice = join(workDir, 'twice.csv');
    writeFileSync(twice, 'legal_name,email,EMAIL\nAna Twice,a@example.com,b@example.com\n');
    const doubled = await amend('import', twice);
    expect(doubled.code).toBe(66);
    expect(doubled.stderr).toContain('names email more than once');
  });

  it('refuses a row with more values than the header has columns, and counts lines as a reader does', async () => {
    const file = join(workDir, 'shifted.csv');
    writeFileSync(
      file,
      [
        'legal_name,email,address_line1,locality,region,postcode,country',
        'Ana Shift,ana.shift@example.com,1 Example St, Carlton,Carlton,VIC,3053,AU',
        '',
        'Ben Quoted,ben.quoted@example.com,"Unit 2,',
        '1 Example St",Carlton,VIC,3053,AU',
        'Cy Bad,not-an-email,,,,,',
        'Di Bad,"di@example.com",,,,,',
        '"Eve\nBad",not-an-email,,,,,',
      ].join('\r\n'),
    );
    const result = await amend('import', file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Read 5 rows: imported 2, rejected 3');
    const report = readFileSync(`${file}.errors.csv`, 'utf8');
    // A blank line and a quoted value over two lines: problems name the line a reader sees each row start on.
    expect(report).toMatch(/^2,\(row\),ROW\.EXTRA_VALUES,This row has 1 value under no named column/m);
    expect(report).toMatch(/^6,email,EMAIL\.SYNTAX/m);
    expect(report).toMatch(/^8,email,EMAIL\.SYNTAX/m);
  });
});
