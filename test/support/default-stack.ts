import { startStack, type Stack } from './stack';

/**
 * The default stack (startStack() without options) for a file that needs nothing else.
 *
 * In the `shared-stack` project (vitest.config.ts: isolate off, TEST_SHARED_STACK set) a vitest
 * worker runs its files one after another in one process with one module cache, so this module's
 * state outlives a file: the worker's first file starts the stack and every later file of that
 * worker uses the same one. Its stop() is then a no-op for the files; the stack ends with the
 * worker's process (vitest ends it after its last file), which closes its sockets and its MySQL
 * connections. Keyed by MYSQL_SHARDS: a file on other databases gets a stack of its own.
 *
 * Elsewhere (the isolated projects) each file starts its own and stops it, as startStack() does.
 * What a file may rely on is the same either way: a stack on its worker's databases, accounts of
 * its own (unique owners), nothing it did not make itself.
 */
const shared = new Map<string, Promise<Stack>>();

export function sharingStacks(): boolean {
  return process.env.TEST_SHARED_STACK === '1';
}

export async function defaultStack(): Promise<Stack> {
  if (!sharingStacks()) return startStack();
  const key = process.env.MYSQL_SHARDS ?? '';
  let started = shared.get(key);
  if (started === undefined) {
    started = startStack();
    shared.set(key, started);
    // A stack that failed to start is not kept: the next file tries again (and fails on its own).
    started.catch(() => shared.delete(key));
  }
  const stack = await started;
  return { ...stack, stop: async () => {} };
}
