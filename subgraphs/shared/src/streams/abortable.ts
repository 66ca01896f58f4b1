/**
 * Async generators cannot be stopped while they wait: calling return() on one that is awaiting
 * (say, for the next ledger change on a quiet account) only queues the request until its next
 * yield, which may never come, and the subscription leaks. abortable() hands the generator an
 * AbortSignal and aborts it first when the consumer returns, so every wait inside can end at
 * once; the generator's finally blocks then run as usual. onEnd runs exactly once, however the
 * stream ends (finished, failed, returned, or returned before it ever started).
 */
export function abortable<T>(
  make: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>,
  onEnd?: () => void,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController();
  const inner = make(controller.signal);
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd?.();
  };
  const done = { done: true as const, value: undefined };
  const iterator: AsyncGenerator<T, void, undefined> = {
    async next() {
      try {
        const result = await inner.next();
        if (result.done) end();
        return result;
      } catch (error) {
        end();
        if (controller.signal.aborted && isAbortError(error)) return done;
        throw error;
      }
    },
    async return() {
      controller.abort();
      try {
        await inner.return(undefined);
      } catch (error) {
        if (!isAbortError(error)) throw error;
      } finally {
        end();
      }
      return done;
    },
    async throw(error: unknown) {
      controller.abort();
      try {
        return await inner.throw(error);
      } finally {
        end();
      }
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Resolves after ms, or rejects with an AbortError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(): Error {
  const error = new Error('the stream was stopped');
  error.name = 'AbortError';
  return error;
}
