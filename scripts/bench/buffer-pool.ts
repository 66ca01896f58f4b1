import { totalmem } from 'node:os';
import type mysql from 'mysql2/promise';
import { withServer } from '../../subgraphs/shared/src/db/server-connection';
import { sleep } from '../lib/server-process';
import {
  benchBufferPoolBytesMax,
  benchBufferPoolRamShareMax,
  bufferPoolResizePollMs,
  bufferPoolResizeRetryMs,
  bufferPoolResizeWaitMs,
  bufferPoolStepBytes,
} from './limits';

/**
 * The database server's buffer pool during a run (docs/PERFORMANCE.md, "The database server"). A run's databases grow
 * past a distribution's default pool (MariaDB's 128 MiB: ≈ 700 MB by the end of group a), and then a batch's inserts
 * read index pages from the disk while it holds its accounts' locks, and the page cleaner writes what is evicted: at a
 * fixed 800 payments/s, A B A B, the p99 was 127.6 and 196.7 ms with the pool at 128 MiB, 90.0 and 115.0 at 1 GiB, for
 * the same CPU a payment. A payments database is sized to hold its working set, so the bench grows a smaller pool for
 * the run (MySQL and MariaDB resize it online) and gives the old size back at the end; `--mysql-as-is` measures the
 * server as it is. The JSON says which (machine.bufferPool).
 */
export interface BufferPoolHold {
  /** The pool when the run began and during it, bytes. */
  before: number;
  during: number;
  restore(): Promise<void>;
}

/** The pool the bench runs with on this machine: benchBufferPoolBytesMax, or less where memory is short. */
export function benchBufferPoolBytes(memoryBytes: number = totalmem()): number {
  const share = Math.floor((memoryBytes * benchBufferPoolRamShareMax) / bufferPoolStepBytes) * bufferPoolStepBytes;
  return Math.min(benchBufferPoolBytesMax, share);
}

/**
 * Grows the pool of the server at `serverUrl` to `bytes` when it is smaller; answers what it was, what it is, and how
 * to give the old size back. A server that refuses (no privilege, a resize that does not end) is measured as it is,
 * and the log says so.
 */
export async function holdBufferPool(
  serverUrl: string,
  log: (line: string) => void,
  bytes: number = benchBufferPoolBytes(),
): Promise<BufferPoolHold> {
  const before = await bufferPoolBytes(serverUrl);
  const asIs = { before, during: before, restore: async () => undefined };
  if (before >= bytes) return asIs;
  let during: number;
  try {
    during = await withServer(serverUrl, (conn) => resize(conn, bytes));
  } catch (error) {
    log(`the database server's buffer pool stays at ${mib(before)}: ${(error as Error).message}`);
    return asIs;
  }
  log(`the database server's buffer pool grown from ${mib(before)} to ${mib(during)} for this run`);
  return {
    before,
    during,
    restore: async () => {
      await withServer(serverUrl, (conn) => resize(conn, before)).catch((error: unknown) =>
        log(`the database server's buffer pool was left at ${mib(during)}: ${(error as Error).message}`),
      );
    },
  };
}

/** The pool of the server at `serverUrl` now, bytes. */
export function bufferPoolBytes(serverUrl: string): Promise<number> {
  return withServer(serverUrl, poolBytes);
}

async function poolBytes(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query('SELECT @@innodb_buffer_pool_size AS b');
  return Number((rows as Array<{ b: string | number }>)[0]!.b);
}

/**
 * Sets the pool's size and answers it once the server has resized (in the background, on some versions). A resize the
 * server gives up on is asked for again until bufferPoolResizeWaitMs: MariaDB 10.11 aborts a shrink that finds no block
 * it can free ("innodb_buffer_pool_size change aborted"; 11-30, right after a run, its pages still dirty), which left
 * the pool at 4 GiB for every later run. A size that moved is the server's answer (it may round to its chunks).
 */
async function resize(conn: mysql.Connection, bytes: number): Promise<number> {
  const deadline = Date.now() + bufferPoolResizeWaitMs;
  for (;;) {
    const from = await poolBytes(conn);
    if (from === bytes) return from;
    await conn.query('SET GLOBAL innodb_buffer_pool_size = ?', [bytes]).catch((error: unknown) => {
      // Any other refusal (no privilege, a size out of range) is the server's last word.
      if (!/change aborted/i.test((error as Error).message)) throw error;
    });
    const size = await resizeEnded(conn, deadline);
    if (size !== from) return size;
    if (Date.now() > deadline) throw new Error(`the pool stayed at ${mib(size)} for ${bufferPoolResizeWaitMs} ms`);
    await sleep(bufferPoolResizeRetryMs);
  }
}

/** The pool's size once the resize in progress has ended. */
async function resizeEnded(conn: mysql.Connection, deadline: number): Promise<number> {
  for (;;) {
    const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'");
    const status = (rows as Array<{ Value: string }>)[0]?.Value ?? '';
    // Empty (MariaDB 10.11), or "Completed resizing buffer pool at …" (MySQL, earlier MariaDB), once it has ended.
    if (status === '' || /^(completed|size did not change)/i.test(status)) return poolBytes(conn);
    if (Date.now() > deadline) throw new Error(`the resize did not end within ${bufferPoolResizeWaitMs} ms: ${status}`);
    await sleep(bufferPoolResizePollMs);
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}
