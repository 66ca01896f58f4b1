import { log } from './log';
import type { Shard } from './shards/pool';
import { isShardUnreachable } from './shards/unavailable';

/**
 * A background worker of a subgraph process (the outbox relay, hold expiry, idempotency-key
 * retention, settlement): one pass at once, the next intervalMs after the last ended, so a slow
 * pass delays the next instead of overlapping it. A pass is the caller's bounded unit of work
 * (each worker caps its batches with a named limit) and answers how many items it handled; a
 * pass that throws is logged and the worker goes on at the next interval.
 */
export interface WorkerOptions {
  /** Named in the log line of a failed pass. */
  name: string;
  /** The pause between the end of a pass and the start of the next. */
  intervalMs: number;
  /** One bounded pass: answers how many items it handled. */
  pass: () => Promise<number>;
}

export interface Worker {
  /** No pass starts after this; resolves once a running pass (timer's or drain's) has ended. */
  stop(): Promise<void>;
  /**
   * Runs one pass now, after the running one, and answers its count or its error; tests use it instead of waiting for
   * the timer.
   */
  drain(): Promise<number>;
  /**
   * Starts the next pass now instead of at the end of the pause (a hint that there is work); during a pass, right after
   * it.
   */
  wake(): void;
}

export function startWorker(options: WorkerOptions): Worker {
  const { name, intervalMs, pass } = options;
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0)
    throw new Error(`worker ${name}: intervalMs must be a positive integer, got ${intervalMs}`);
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  /** A wake that came during a pass: what it hints at may have committed after the pass read. */
  let woken = false;

  /** Chained after the running pass, so that two never overlap; a failure is logged once, and thrown to a drain. */
  const runPass = (): Promise<number> => {
    const next = running.then(() => pass());
    running = next.catch((error: unknown) => {
      log().error({ err: error }, `${name} pass failed`);
      return 0;
    });
    return next;
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      await runPass().catch(() => 0);
      if (stopped) break;
      if (woken) {
        woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
      wake = null;
      timer = null;
    }
  };
  void loop();

  return {
    stop: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      wake?.();
      await running;
    },
    drain: () => runPass(),
    wake: () => {
      if (wake === null) {
        woken = true;
        return;
      }
      if (timer !== null) clearTimeout(timer);
      wake();
    },
  };
}

/**
 * A pass's bounded delete: `deleteBatch(batchSizeMax)` removes at most that many rows and answers
 * how many it removed; batches go on while they come back full, at most batchesMax of them, so
 * a pass over a large backlog ends and the next pass goes on with the rest.
 */
export async function deleteInBatches(
  deleteBatch: (batchSizeMax: number) => Promise<number>,
  batchSizeMax: number,
  batchesMax: number,
): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < batchesMax; batch++) {
    const n = await deleteBatch(batchSizeMax);
    deleted += n;
    if (n < batchSizeMax) break;
  }
  return deleted;
}

/**
 * A pass over several databases at once (the relay, hold expiry, the link feed's poll, the webhook, idempotency-key and
 * FX-quote purges): each database's tick runs beside the others', and the pass ends only once every one has ended.
 * With Promise.all a database that failed fast ended the pass while the others' ticks still ran, unawaited, and the
 * next pass overlapped them (startWorker: passes never overlap). A database away (isShardUnreachable) is logged and
 * counts nothing: the others' work is done, and the next pass tries it again. Anything else is a bug, thrown once all
 * have ended. Answers the sum.
 * A slow database delays the others' next pass: the relay, hold expiry (startWorkerPerDatabase) and the webhook
 * dispatcher run a worker per database instead; the purges and the link feed's poll, which nothing waits on, do not.
 */
export async function passOverDatabases(
  name: string,
  databases: readonly Shard[],
  tick: (shard: Shard) => Promise<number>,
): Promise<number> {
  const counts = await fromEveryReachable(name, databases, tick);
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * What each database answers, read beside the others' and only once every one has ended (passOverDatabases; the
 * settlement workers' searches): a database away (isShardUnreachable) is logged and left out, anything else is a bug,
 * thrown once all have ended (the first; the others logged).
 */
export async function fromEveryReachable<T>(
  name: string,
  databases: readonly Shard[],
  read: (shard: Shard) => Promise<T>,
): Promise<T[]> {
  const answers = await Promise.allSettled(databases.map((shard) => read(shard)));
  const values: T[] = [];
  const bugs: unknown[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === 'fulfilled') values.push(answer.value);
    else if (!isShardUnreachable(answer.reason)) bugs.push(answer.reason);
    else
      log().warn({ err: answer.reason, shard: databases[i]!.name }, `${name}: a database away, left for the next pass`);
  });
  throwFirstBug(name, bugs);
  return values;
}

/**
 * A worker per database, each running `tick` on its own database only (as a pass over that one: a database away is
 * logged and counts nothing): a slow database, one that answers but slowly so no breaker opens (a lock, a long
 * batch), delays only its own next pass. With one pass over every database (passOverDatabases), the others' due rows
 * waited for it: a cross-shard payment's credit on a healthy database stayed PROCESSING as long as the slow one's tick
 * ran. `databases` is read again at every pass of every worker, so a database the shard map adds while the process
 * runs (a shard move's target: placement.ts appends it) gets its worker by the next pass. stop and wake act on every
 * worker; drain runs a pass of each and answers their sum once every one has ended (a bug on one thrown then, the
 * others logged, as passOverDatabases does).
 */
export function startWorkerPerDatabase(
  options: Omit<WorkerOptions, 'pass'> & {
    databases: () => readonly Shard[];
    tick: (shard: Shard) => Promise<number>;
  },
): Worker {
  const { name, intervalMs, databases, tick } = options;
  const workers = new Map<Shard, Worker>();
  let stopped = false;
  /** A worker for every database listed now (none once stopped): the workers. */
  const follow = (): Worker[] => {
    for (const shard of stopped ? [] : databases())
      if (!workers.has(shard))
        workers.set(
          shard,
          startWorker({
            name: `${name} (${shard.name})`,
            intervalMs,
            pass: () => {
              follow();
              return passOverDatabases(name, [shard], tick);
            },
          }),
        );
    return [...workers.values()];
  };
  follow();
  return {
    stop: async () => {
      stopped = true;
      await Promise.all([...workers.values()].map((worker) => worker.stop()));
    },
    drain: async () => {
      const answers = await Promise.allSettled(follow().map((worker) => worker.drain()));
      const bugs = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
      throwFirstBug(name, bugs);
      return answers.reduce((sum, a) => sum + (a.status === 'fulfilled' ? a.value : 0), 0);
    },
    wake: () => {
      for (const worker of follow()) worker.wake();
    },
  };
}

/** Bugs of a pass's databases, once every one has ended: the first thrown, the others logged. */
function throwFirstBug(name: string, bugs: readonly unknown[]): void {
  for (const bug of bugs.slice(1)) log().error({ err: bug }, `${name} pass failed on another database too`);
  if (bugs.length > 0) throw bugs[0];
}
