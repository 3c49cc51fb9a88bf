import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmendDatabase } from '../src/store/database.ts';
import { openTestDatabase, testEngine } from './support/test-database.ts';

// PGlite is one connection handed from caller to caller, and it runs a statement synchronously inside a promise.
// Queued callers must still let the event loop read sockets between them, or a busy server stops accepting
// connections (under 32 clients, new ones were accepted one per 100-300 ms and waited up to 3.6 s).
describe.skipIf(testEngine() !== 'pglite')('the embedded connection under a queue of callers', () => {
  let database: AmendDatabase;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    database = await openTestDatabase();
    server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await database.close();
  });

  it('keeps the server answering while transactions queue for the connection', async () => {
    const queued = 400;
    let finished = 0;
    const work = Array.from({ length: queued }, () =>
      database.db.transaction().execute(async (trx) => {
        await sql`SELECT count(*) FROM audit_entry`.execute(trx);
        finished += 1;
      }),
    );
    // A request on loopback needs the event loop several times (connect, accept, read, write, read).
    const answered = fetch(`http://127.0.0.1:${port}/`).then(async (response) => {
      await response.text();
      return finished;
    });
    const finishedWhenAnswered = await answered;
    await Promise.all(work);
    expect(finished).toBe(queued);
    expect(finishedWhenAnswered).toBeLessThan(queued);
  });

  it('hands the connection on in the order it was asked for', async () => {
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        database.db.transaction().execute(async (trx) => {
          await sql`SELECT 1`.execute(trx);
          order.push(index);
        }),
      ),
    );
    expect(order).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });
});
